#include "secure-agg/crypto/bytes.h"

#include <openssl/crypto.h>

#include <cstring>

#include "secure-agg/errors.h"

namespace fedlora::secagg::crypto {

void cleanse(void* p, std::size_t bytes) {
  if (p != nullptr && bytes != 0) OPENSSL_cleanse(p, bytes);
}

void cleanse(std::string& s) { cleanse(s.data(), s.size()); }

Secret32::Secret32(ByteSpan b) {
  if (b.size() != 32) {
    throw CryptoError("a 32-byte secret was constructed from " + std::to_string(b.size()) +
                      " bytes");
  }
  std::memcpy(bytes_.data(), b.data(), 32);
}

Secret32& Secret32::operator=(const Secret32& o) {
  if (this != &o) bytes_ = o.bytes_;
  return *this;
}

Secret32::~Secret32() { OPENSSL_cleanse(bytes_.data(), bytes_.size()); }

bool constant_time_equal(ByteSpan a, ByteSpan b) {
  if (a.size() != b.size()) return false;
  if (a.empty()) return true;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string to_hex(ByteSpan b) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string s;
  s.reserve(b.size() * 2);
  for (std::uint8_t x : b) {
    s.push_back(kDigits[x >> 4]);
    s.push_back(kDigits[x & 15]);
  }
  return s;
}

Bytes from_hex(std::string_view hex) {
  auto nibble = [&](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    throw CryptoError("from_hex: invalid hex digit '" + std::string(1, c) + "'");
  };
  if (hex.size() % 2 != 0) throw CryptoError("from_hex: odd number of hex digits");
  Bytes out(hex.size() / 2);
  for (std::size_t i = 0; i < out.size(); ++i) {
    out[i] = static_cast<std::uint8_t>(nibble(hex[2 * i]) << 4 | nibble(hex[2 * i + 1]));
  }
  return out;
}

}  // namespace fedlora::secagg::crypto
