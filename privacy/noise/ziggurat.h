// Ziggurat tables for the standard normal distribution.
//
// Source: G. Marsaglia, W. W. Tsang, "The Ziggurat Method for Generating Random
// Variables", J. Stat. Softw. 5(8), 2000, §2-3, with 256 layers: r = 3.6541528853610088,
// v = 4.92867323399e-3. Following J. A. Doornik, "An Improved Ziggurat Method to Generate
// Normal Random Samples" (2005), the layer index and the abscissa come from disjoint bits
// of one 64-bit word (8 bits layer, 1 bit sign, 53 bits uniform), avoiding the
// correlation of the original 32-bit version. The tail beyond r is sampled exactly with
// Marsaglia's method (x = r + a, a = −ln(U1)/r, accepted when −2 ln(U2) > a²).
//
// Largest attainable |z|. Outside the tail every layer returns x < x[1] = r. In the tail
// z = r + a with a = −ln(U1)/r, accepted iff −2 ln(U2) ≥ a², where U1, U2 = k·2^−53,
// k ∈ [1, 2^53] (53-bit uniforms on (0, 1]). Hence −ln U2 ≤ 53 ln 2 and a ≤ √(106 ln 2) =
// 8.5716743…; a only takes the values −ln(k·2^−53)/r, and the smallest accepted k is 225
// (k = 224 gives a = 8.5724805… > √(106 ln 2), rejected even with U2 = 2^−53). So
//     max |z| = r − ln(225·2^−53)/r = 12.225414447225950 (in double; 12.2254144472259499 exact),
// attained by U1 = 225·2^−53 with U2 = 2^−53. Derived with 50-digit arithmetic (mpmath)
// and checked bit-exactly by tests/privacy/noise_source_test.cpp, which feeds these words
// through standard_normal(). P(|z| > 9) ≈ 2.3e−19, so the cut-off is not a practical limit.
#pragma once

#include <array>
#include <cmath>
#include <cstdint>

namespace fedlora::privacy::ziggurat {

inline constexpr int kLayers = 256;
inline constexpr double kR = 3.6541528853610088;   ///< start of the tail
inline constexpr double kV = 4.92867323399e-3;     ///< area of every layer

struct Tables {
  /// x[0] = v/f(r) (pseudo-width of the base layer), x[1] = r, x[i+1] from
  /// f(x[i+1]) = v/x[i] + f(x[i]), x[256] = 0. Decreasing.
  std::array<double, kLayers + 1> x;
  /// f[i] = exp(−x[i]²/2); f[256] = 1.
  std::array<double, kLayers + 1> f;
};

/// The tables, computed once (thread-safe static initialization).
const Tables& tables();

/// Largest |z| standard_normal() can return (see the header comment).
inline constexpr double kMaxAbsSample = 12.225414447225950;

/// One N(0, 1) draw from 64-bit words supplied by next_word() (a callable returning
/// std::uint64_t): word = 8 bits layer | 1 bit sign | 2 spare | 53 bits uniform; the tail and
/// the wedges take further words as 53-bit uniforms ((w >> 11)·2^−53, or ((w >> 11) + 1)·2^−53
/// where a log is taken). NoiseSource::gaussian() is this sampler on its AES-CTR stream.
template <class NextWord>
double standard_normal(NextWord&& next_word) {
  constexpr double kTwoPowMinus53 = 0x1p-53;
  const auto uniform = [&] { return static_cast<double>(next_word() >> 11) * kTwoPowMinus53; };
  const auto uniform_open_zero = [&] {
    return static_cast<double>((next_word() >> 11) + 1) * kTwoPowMinus53;
  };
  const Tables& t = tables();
  for (;;) {
    const std::uint64_t bits = next_word();
    const unsigned layer = static_cast<unsigned>(bits & 0xFFu);
    const bool negative = (bits >> 8) & 1u;
    const double u = static_cast<double>(bits >> 11) * kTwoPowMinus53;
    const double x = u * t.x[layer];
    if (x < t.x[layer + 1]) return negative ? -x : x;  // inside the layer's core rectangle
    if (layer == 0) {
      // Tail beyond r (Marsaglia 1964): exact.
      double a, b;
      do {
        a = -std::log(uniform_open_zero()) / kR;
        b = -std::log(uniform_open_zero());
      } while (b + b < a * a);
      const double z = kR + a;
      return negative ? -z : z;
    }
    // Wedge between the layer's core rectangle and the density.
    const double y = t.f[layer] + uniform() * (t.f[layer + 1] - t.f[layer]);
    if (y < std::exp(-0.5 * x * x)) return negative ? -x : x;
  }
}

}  // namespace fedlora::privacy::ziggurat
