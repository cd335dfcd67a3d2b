#pragma once
// Sources of randomness. Only cryptographic generators exist here: the operating
// system's via OpenSSL RAND_bytes, and a seeded AES-256-CTR stream for reproducible
// tests and simulations. There is no non-cryptographic RNG anywhere in fedlora_secagg.
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>

#include "secure-agg/crypto/aes_ctr_prng.h"
#include "secure-agg/crypto/bytes.h"

namespace fedlora::secagg::crypto {

/// Interface of a randomness source. Not thread-safe: one instance per thread/party.
class RandomSource {
 public:
  virtual ~RandomSource() = default;
  /// Fills out with random bytes. Throws CryptoError on failure.
  virtual void fill(std::span<std::uint8_t> out) = 0;

  std::uint64_t next_u64();
  /// Uniform integer in [0, bound) by rejection sampling (no modulo bias).
  /// Throws ConfigError if bound == 0.
  std::uint64_t uniform_below(std::uint64_t bound);
  Secret32 secret32();
};

/// OpenSSL RAND_bytes (the OS-seeded DRBG). The default for real rounds.
class SystemRandom final : public RandomSource {
 public:
  void fill(std::span<std::uint8_t> out) override;
};

/// AES-256-CTR keystream under a 32-byte seed: a cryptographic PRG, deterministic for a
/// given seed. Secrets generated from it are only as secret as the seed: use it for
/// tests and reproducible simulations, SystemRandom for anything deployed.
class DeterministicRandom final : public RandomSource {
 public:
  explicit DeterministicRandom(const Secret32& seed);
  /// Seed expanded with HKDF-SHA256 from a 64-bit test seed and a label, so that
  /// independent streams (per client, per purpose) come from one run seed.
  DeterministicRandom(std::uint64_t test_seed, std::string_view label);
  void fill(std::span<std::uint8_t> out) override;

 private:
  AesCtrPrng prg_;
};

}  // namespace fedlora::secagg::crypto
