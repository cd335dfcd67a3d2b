#pragma once
// AES-256-CTR keystream generator (OpenSSL EVP "AES-256-CTR"): the PRG that expands
// mask seeds into masks (Bonawitz et al. CCS'17, "pseudorandom generator") and
// the core of DeterministicRandom.
#include <cstdint>
#include <memory>
#include <span>

#include "secure-agg/crypto/bytes.h"

struct evp_cipher_ctx_st;

namespace fedlora::secagg::crypto {

/// Keystream of AES-256 in counter mode: block i is AES_key(iv + i) with a 128-bit
/// big-endian counter (NIST SP 800-38A §6.5). The caller must never reuse a (key, iv)
/// pair for two different purposes: every key here comes from HKDF with a
/// purpose-specific label, so the default all-zero IV is safe.
class AesCtrPrng {
 public:
  /// key: 32 bytes; iv: 16 bytes initial counter block (default zero).
  /// Throws CryptoError if OpenSSL fails.
  explicit AesCtrPrng(const Secret32& key);
  AesCtrPrng(const Secret32& key, std::span<const std::uint8_t, 16> iv);
  ~AesCtrPrng();
  AesCtrPrng(AesCtrPrng&&) noexcept;
  AesCtrPrng& operator=(AesCtrPrng&&) noexcept;
  AesCtrPrng(const AesCtrPrng&) = delete;
  AesCtrPrng& operator=(const AesCtrPrng&) = delete;

  /// Writes the next out.size() keystream bytes. Throws CryptoError on failure.
  void fill(std::span<std::uint8_t> out);

 private:
  evp_cipher_ctx_st* ctx_ = nullptr;
};

}  // namespace fedlora::secagg::crypto
