#include "lora/tokenizer/utf8.h"

#include <cstdint>

namespace fedlora::lora::utf8 {

namespace {
bool in(std::uint8_t b, std::uint8_t lo, std::uint8_t hi) { return b >= lo && b <= hi; }
}  // namespace

std::size_t valid_sequence_length(std::string_view text, std::size_t pos) noexcept {
  const std::size_t left = text.size() - pos;
  const auto b = [&](std::size_t i) { return static_cast<std::uint8_t>(text[pos + i]); };
  const std::uint8_t b0 = b(0);
  if (b0 < 0x80) return 1;
  // Unicode Table 3-7: the second byte's range depends on the first byte; later bytes are
  // plain continuation bytes 80..BF.
  std::size_t len = 0;
  std::uint8_t lo = 0x80, hi = 0xBF;
  if (in(b0, 0xC2, 0xDF)) {
    len = 2;
  } else if (b0 == 0xE0) {
    len = 3, lo = 0xA0;  // no overlong forms
  } else if (in(b0, 0xE1, 0xEC) || in(b0, 0xEE, 0xEF)) {
    len = 3;
  } else if (b0 == 0xED) {
    len = 3, hi = 0x9F;  // no surrogates
  } else if (b0 == 0xF0) {
    len = 4, lo = 0x90;  // no overlong forms
  } else if (in(b0, 0xF1, 0xF3)) {
    len = 4;
  } else if (b0 == 0xF4) {
    len = 4, hi = 0x8F;  // nothing above U+10FFFF
  } else {
    return 0;  // 80..C1 and F5..FF never start a sequence
  }
  if (left < len || !in(b(1), lo, hi)) return 0;
  for (std::size_t i = 2; i < len; ++i) {
    if (!in(b(i), 0x80, 0xBF)) return 0;
  }
  return len;
}

bool is_valid(std::string_view text) noexcept {
  std::size_t pos = 0;
  while (pos < text.size()) {
    const std::size_t n = valid_sequence_length(text, pos);
    if (n == 0) return false;
    pos += n;
  }
  return true;
}

}  // namespace fedlora::lora::utf8
