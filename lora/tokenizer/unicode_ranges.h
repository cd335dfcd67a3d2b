#pragma once
// Unicode character classes used by the byte-level BPE pre-tokenizers' regexes: \p{L}
// (general category L*), \p{N} (N*) and \s (the White_Space property, as in the Rust
// `regex` crate and Oniguruma). Tables generated from the Unicode Character Database by
// gen_unicode_ranges.py.
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace fedlora::lora::unicode {

bool is_letter(char32_t cp) noexcept;      ///< \p{L}
bool is_number(char32_t cp) noexcept;      ///< \p{N}
bool is_whitespace(char32_t cp) noexcept;  ///< \s (White_Space)

/// A code point and the bytes it came from. Bytes that are not well-formed UTF-8 become one
/// "character" each, with cp = 0xFFFFFFFF (in no class), so that splitting never loses bytes.
struct Char {
  char32_t cp;
  std::size_t begin, end;  ///< byte range in the source text
};
inline constexpr char32_t kInvalid = 0xFFFFFFFF;

/// Splits text into characters (never throws; any bytes).
std::vector<Char> decode(std::string_view text);

/// UTF-8 encoding of a code point <= U+10FFFF.
void append_utf8(std::string& out, char32_t cp);

}  // namespace fedlora::lora::unicode
