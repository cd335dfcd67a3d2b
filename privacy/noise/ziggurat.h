// Ziggurat tables for the standard normal distribution.
//
// Source: G. Marsaglia, W. W. Tsang, "The Ziggurat Method for Generating Random
// Variables", J. Stat. Softw. 5(8), 2000, §2-3, with 256 layers: r = 3.6541528853610088,
// v = 4.92867323399e-3. Following J. A. Doornik, "An Improved Ziggurat Method to Generate
// Normal Random Samples" (2005), the layer index and the abscissa come from disjoint bits
// of one 64-bit word (8 bits layer, 1 bit sign, 53 bits uniform), avoiding the
// correlation of the original 32-bit version. The tail beyond r is sampled exactly with
// Marsaglia's method (x = r + a, a = −ln(U1)/r, accepted when −2 ln(U2) > a²).
#pragma once

#include <array>

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

}  // namespace fedlora::privacy::ziggurat
