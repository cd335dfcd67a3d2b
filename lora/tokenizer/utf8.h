#pragma once
// Strict UTF-8 character splitting for the SentencePiece encoder.

#include <cstddef>
#include <string_view>

namespace fedlora::lora::utf8 {

/// Length in bytes (1..4) of the well-formed UTF-8 sequence that starts at `text[pos]`, or 0
/// if the bytes there are not well-formed UTF-8 (stray continuation byte, truncated
/// sequence, overlong form, surrogate U+D800..U+DFFF, or a value above U+10FFFF), following
/// the table of well-formed byte sequences in Unicode 15 §3.9 (Table 3-7) / RFC 3629 §4.
/// Precondition: pos < text.size().
std::size_t valid_sequence_length(std::string_view text, std::size_t pos) noexcept;

/// True if the whole string is well-formed UTF-8.
bool is_valid(std::string_view text) noexcept;

}  // namespace fedlora::lora::utf8
