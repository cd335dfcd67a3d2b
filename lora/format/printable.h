#pragma once
// Renders untrusted names and keys for error messages: at most 80 bytes, control bytes
// (and, unless allowed, non-ASCII bytes) as \xNN, in single quotes.
#include <string>
#include <string_view>

namespace fedlora::lora::detail {

inline std::string printable(std::string_view s, bool allow_utf8 = false) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "'";
  for (char ch : s.substr(0, 80)) {
    const auto u = static_cast<unsigned char>(ch);
    if ((u >= 0x20 && u < 0x7F) || (allow_utf8 && u >= 0x80)) {
      out += ch;
    } else {
      out += "\\x";
      out += kHex[u >> 4];
      out += kHex[u & 15];
    }
  }
  if (s.size() > 80) out += "...";
  return out + "'";
}

}  // namespace fedlora::lora::detail
