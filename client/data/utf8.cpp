#include "client/data/utf8.h"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <string>

#include "client/data/data_error.h"

namespace fedlora::client::data {
namespace {

[[noreturn]] void fail(std::string_view bytes, std::string_view source, std::size_t offset,
                       unsigned char byte, const char* reason) {
  char hex[8];
  std::snprintf(hex, sizeof hex, "0x%02X", static_cast<unsigned>(byte));
  // 1-based line and column (in bytes) so an editor can jump to the bad byte.
  const std::string_view before = bytes.substr(0, offset);
  const std::size_t line = 1 + static_cast<std::size_t>(std::count(before.begin(), before.end(), '\n'));
  const std::size_t line_start = before.rfind('\n');
  const std::size_t column = offset - (line_start == std::string_view::npos ? 0 : line_start + 1) + 1;
  throw DataError(std::string(source) + ":" + std::to_string(line) + ":" + std::to_string(column) +
                  ": invalid UTF-8 at byte offset " +
                  std::to_string(offset) + " (byte " + hex + "): " + reason +
                  "; re-encode the file as UTF-8");
}

bool is_continuation(unsigned char b) { return (b & 0xC0u) == 0x80u; }

}  // namespace

void validate_utf8(std::string_view bytes, std::string_view source) {
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  const std::size_t n = bytes.size();
  std::size_t i = 0;
  while (i < n) {
    const unsigned char b0 = p[i];
    if (b0 < 0x80u) {
      ++i;
      continue;
    }
    std::size_t len = 0;
    // Allowed range of the second byte (Unicode Table 3-7); later bytes are 80..BF.
    unsigned char lo = 0x80u, hi = 0xBFu;
    if (b0 >= 0xC2u && b0 <= 0xDFu) {
      len = 2;
    } else if (b0 >= 0xE0u && b0 <= 0xEFu) {
      len = 3;
      if (b0 == 0xE0u) lo = 0xA0u;  // overlong below U+0800
      if (b0 == 0xEDu) hi = 0x9Fu;  // U+D800..DFFF are surrogates
    } else if (b0 >= 0xF0u && b0 <= 0xF4u) {
      len = 4;
      if (b0 == 0xF0u) lo = 0x90u;  // overlong below U+10000
      if (b0 == 0xF4u) hi = 0x8Fu;  // above U+10FFFF
    } else if (is_continuation(b0)) {
      fail(bytes, source, i, b0, "continuation byte without a lead byte");
    } else if (b0 == 0xC0u || b0 == 0xC1u) {
      fail(bytes, source, i, b0, "overlong encoding of an ASCII character");
    } else {
      fail(bytes, source, i, b0, "byte never valid in UTF-8 (code point above U+10FFFF)");
    }
    if (n - i < len) fail(bytes, source, i, b0, "sequence truncated by the end of the input");
    const unsigned char b1 = p[i + 1];
    if (b1 < lo || b1 > hi) {
      if (!is_continuation(b1)) fail(bytes, source, i, b0, "sequence truncated (missing continuation byte)");
      if (b0 == 0xEDu) fail(bytes, source, i, b0, "encodes a UTF-16 surrogate (U+D800..U+DFFF)");
      if (b0 == 0xF4u) fail(bytes, source, i, b0, "encodes a code point above U+10FFFF");
      fail(bytes, source, i, b0, "overlong encoding");
    }
    for (std::size_t k = 2; k < len; ++k) {
      if (!is_continuation(p[i + k])) fail(bytes, source, i, b0, "sequence truncated (missing continuation byte)");
    }
    i += len;
  }
}

std::size_t count_code_points(std::string_view bytes) noexcept {
  std::size_t count = 0;
  for (const char c : bytes) {
    if (!is_continuation(static_cast<unsigned char>(c))) ++count;
  }
  return count;
}

}  // namespace fedlora::client::data
