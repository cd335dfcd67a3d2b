#include "secure-agg/crypto/random.h"

#include <openssl/rand.h>

#include <array>
#include <climits>
#include <string>

#include "secure-agg/crypto/hkdf.h"
#include "secure-agg/errors.h"

namespace fedlora::secagg::crypto {

std::uint64_t RandomSource::next_u64() {
  std::array<std::uint8_t, 8> b{};
  fill(b);
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = v << 8 | b[static_cast<std::size_t>(i)];
  return v;
}

std::uint64_t RandomSource::uniform_below(std::uint64_t bound) {
  if (bound == 0) throw ConfigError("uniform_below: bound must be positive");
  // Accept v < limit, the largest multiple of bound that fits in 2^64.
  const std::uint64_t limit = bound * (UINT64_MAX / bound);
  for (;;) {
    const std::uint64_t v = next_u64();
    if (v < limit) return v % bound;
  }
}

Secret32 RandomSource::secret32() {
  Secret32 s;
  fill(s.mutable_span());
  return s;
}

void SystemRandom::fill(std::span<std::uint8_t> out) {
  std::size_t done = 0;
  while (done < out.size()) {
    const std::size_t n = std::min<std::size_t>(out.size() - done, INT_MAX);
    if (RAND_bytes(out.data() + done, static_cast<int>(n)) != 1) {
      throw CryptoError("RAND_bytes failed: the OS random generator is unavailable");
    }
    done += n;
  }
}

DeterministicRandom::DeterministicRandom(const Secret32& seed) : prg_(seed) {}

namespace {
Secret32 expand_test_seed(std::uint64_t test_seed, std::string_view label) {
  std::array<std::uint8_t, 8> ikm{};
  for (int i = 0; i < 8; ++i) ikm[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(test_seed >> (8 * i));
  const std::string info = "fedlora-secagg/v1 deterministic-random " + std::string(label);
  Secret32 out;
  hkdf_sha256(ikm, {}, as_bytes(info), out.mutable_span());
  return out;
}
}  // namespace

DeterministicRandom::DeterministicRandom(std::uint64_t test_seed, std::string_view label)
    : prg_(expand_test_seed(test_seed, label)) {}

void DeterministicRandom::fill(std::span<std::uint8_t> out) { prg_.fill(out); }

}  // namespace fedlora::secagg::crypto
