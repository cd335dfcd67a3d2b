// NoiseSource: the cryptographically strong random stream behind every DP noise draw and
// every Poisson sample in fedlora.
//
// Bits: AES-256 in counter mode (OpenSSL EVP, NIST SP 800-38A) encrypting zeros from
// counter 0 under a 256-bit key. Normals: the 256-layer ziggurat (ziggurat.h) on 53-bit
// uniforms, exact in the tails (Marsaglia's tail method). The largest attainable |z| is
// 12.225414447225950 (ziggurat::kMaxAbsSample): the tail returns r + a with
// a = −ln(U1)/r, accepted only if −2 ln U2 ≥ a², and −ln U2 ≤ 53 ln 2 for a 53-bit U2, so
// a ≤ √(106 ln 2); the largest such a on the grid U1 = k·2^−53 is at k = 225 (derivation in
// ziggurat.h). Tail mass beyond it, ≈ 2e−34, is what the sampler cannot produce.
//
// Which constructor is used where:
//  * from_os_entropy()  — PRODUCTION. The key comes from OpenSSL RAND_bytes (the OS
//    entropy pool). Used on real devices for DP-SGD noise, distributed user-level noise
//    and Poisson sampling, and by a coordinator adding central noise. Nobody, including the
//    operator, can reproduce the noise, which is what the DP guarantee needs.
//  * from_seed(run_seed, stream_ids) — SIMULATION and tests. The key is
//    SHA-256("fedlora/privacy/noise/v1" ‖ run_seed ‖ #ids ‖ ids…) (64-bit little-endian
//    words), so a run is reproducible from its seed, and distinct stream ids (e.g.
//    {device index, round, purpose}) give independent streams. Anyone who knows the seed
//    can subtract the noise: never use it for a real deployment.
//
// Caveat (Mironov 2012, "On significance of the least significant bits for differential
// privacy"): noise is drawn in double precision and added in float; the DP proofs assume
// real-valued noise. This is the practice of TF Privacy and Opacus and is documented here
// rather than hidden.
//
// Not thread-safe; one NoiseSource per thread/device. Move-only: a copy would replay the
// same noise twice.
#pragma once

#include <array>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <span>

namespace fedlora::privacy {

/// Conventional last stream id naming what a simulation stream is for, so that one
/// device's DP-SGD noise, its Poisson sampling and its update noise never share a stream
/// (a shared stream would correlate them). Use as from_seed(seed, {device, round, kX}).
namespace noise_stream {
inline constexpr std::uint64_t kDpSgdNoise = 1;          ///< per-step gradient noise
inline constexpr std::uint64_t kExampleSampling = 2;     ///< Poisson lots of DP-SGD
inline constexpr std::uint64_t kUserUpdateNoise = 3;     ///< distributed user-level noise
inline constexpr std::uint64_t kClipCountNoise = 4;      ///< adaptive-clipping bit noise
inline constexpr std::uint64_t kCentralNoise = 5;        ///< coordinator's central noise
inline constexpr std::uint64_t kCohortSampling = 6;      ///< Poisson cohort selection
}  // namespace noise_stream

class NoiseSource {
 public:
  /// Production: keyed from 32 bytes of RAND_bytes. Throws CryptoError if OpenSSL cannot
  /// provide entropy (never falls back to a weaker source).
  static NoiseSource from_os_entropy();

  /// Simulation: keyed deterministically from the run seed and stream ids (see above).
  static NoiseSource from_seed(std::uint64_t run_seed,
                               std::span<const std::uint64_t> stream_ids);
  static NoiseSource from_seed(std::uint64_t run_seed,
                               std::initializer_list<std::uint64_t> stream_ids);

  NoiseSource(NoiseSource&&) noexcept;
  NoiseSource& operator=(NoiseSource&&) noexcept;
  NoiseSource(const NoiseSource&) = delete;
  NoiseSource& operator=(const NoiseSource&) = delete;
  ~NoiseSource();

  /// True for from_seed streams (reproducible; simulation only).
  [[nodiscard]] bool deterministic() const { return deterministic_; }

  /// 64 uniformly random bits.
  std::uint64_t next_u64();
  /// Uniform on [0, 1) with 53 random bits (multiples of 2^-53).
  double uniform();
  /// Uniform on (0, 1] with 53 random bits (safe to take the log of).
  double uniform_open_zero();
  /// True with probability p (exactly ⌈p·2^53⌉/2^53). p ∈ [0, 1], else InvalidPrivacyParameter.
  bool bernoulli(double p);
  /// One standard normal N(0, 1) draw.
  double gaussian();

  /// out[i] = N(0, stddev²), drawn in double and rounded to float. stddev finite, ≥ 0.
  void fill_gaussian(std::span<float> out, double stddev);
  /// inout[i] += N(0, stddev²). stddev finite, ≥ 0. Does not inspect inout (see
  /// add_gaussian_noise in gaussian_noise.h for the checked version).
  void add_gaussian(std::span<float> inout, double stddev);
  /// Double-precision variants.
  void fill_gaussian(std::span<double> out, double stddev);
  void add_gaussian(std::span<double> inout, double stddev);

 private:
  struct CipherDeleter {
    void operator()(void* ctx) const noexcept;
  };
  static constexpr std::size_t kBufferWords = 1024;  // 8 KiB of keystream per refill

  NoiseSource(const std::array<std::uint8_t, 32>& key, bool deterministic);
  void refill();

  std::unique_ptr<void, CipherDeleter> ctx_;  // EVP_CIPHER_CTX*
  std::array<std::uint64_t, kBufferWords> buffer_{};
  std::size_t next_ = kBufferWords;
  bool deterministic_ = false;
};

}  // namespace fedlora::privacy
