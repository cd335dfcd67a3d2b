#pragma once
// Seeded, platform-independent random integers (cohort selection, adapter initialisation,
// local shuffles, simulation seed derivation).
//
// std::uniform_int_distribution is implementation-defined (libstdc++ and libc++ give
// different draws from the same engine), so a cohort computed on one build would differ on
// another. Everything here is spelled out bit for bit instead.

#include <cstdint>

namespace fedlora::lora {

/// SplitMix64 finaliser: a bijection on 64-bit words with full avalanche.
/// Source: Steele, Lea, Flood, "Fast Splittable Pseudorandom Number Generators",
/// OOPSLA 2014; constants as in Vigna's reference splitmix64.c.
constexpr std::uint64_t splitmix64_mix(std::uint64_t z) noexcept {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

/// SplitMix64 generator (same reference). Each call to next() advances the state by the
/// golden-ratio increment and returns the mixed state: 64 uniformly distributed bits.
class SplitMix64 {
 public:
  explicit constexpr SplitMix64(std::uint64_t state) noexcept : state_(state) {}
  constexpr std::uint64_t next() noexcept {
    state_ += 0x9E3779B97F4A7C15ULL;
    return splitmix64_mix(state_);
  }
  constexpr std::uint64_t operator()() noexcept { return next(); }

 private:
  std::uint64_t state_;
};

/// The stream used for round `round` of a run seeded with `seed`.
///
/// The state is mix(mix(seed) ^ round): injective in `round` for a fixed seed, and
/// non-linear, so the streams of adjacent rounds are not shifted copies of one another
/// (which they would be with a state of seed + round·γ).
constexpr SplitMix64 round_stream(std::uint64_t seed, std::uint64_t round) noexcept {
  return SplitMix64(splitmix64_mix(splitmix64_mix(seed) ^ round));
}

/// Uniform integer in [0, n) from a generator of uniform 64-bit words, exactly unbiased.
///
/// Lemire's nearly divisionless method: D. Lemire, "Fast Random Integer Generation in an
/// Interval", ACM TOMACS 29(1), 2019, Algorithm 5. The high word of x·n is the result; a
/// draw is rejected when the low word falls below 2^64 mod n, which removes the bias.
/// `gen()` must return uniformly distributed std::uint64_t. Precondition: n > 0 (checked
/// by callers; n == 0 would return 0).
template <class Gen>
std::uint64_t uniform_below(Gen& gen, std::uint64_t n) {
  unsigned __int128 m = static_cast<unsigned __int128>(gen()) * n;
  auto low = static_cast<std::uint64_t>(m);
  if (low < n) {
    const std::uint64_t threshold = (0 - n) % n;  // 2^64 mod n
    while (low < threshold) {
      m = static_cast<unsigned __int128>(gen()) * n;
      low = static_cast<std::uint64_t>(m);
    }
  }
  return static_cast<std::uint64_t>(m >> 64);
}

}  // namespace fedlora::lora
