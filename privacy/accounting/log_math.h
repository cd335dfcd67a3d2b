// Log-space arithmetic for the RDP accountant. Terms of A_α span hundreds of orders of
// magnitude (exp(α²/2σ²) for α = 1024), so every sum is carried as a logarithm.
#pragma once

#include <cstdint>
#include <limits>

namespace fedlora::privacy::logmath {

/// log(0).
inline constexpr double kLogZero = -std::numeric_limits<double>::infinity();

/// log(exp(log_x) + exp(log_y)), exact for either argument = kLogZero.
double log_add(double log_x, double log_y) noexcept;

/// A real number held as sign · exp(log_abs). Zero is {kLogZero, false}.
struct SignedLog {
  double log_abs = kLogZero;
  bool negative = false;
};

/// a + b for signed log-space numbers (log(|a+b|) and its sign); cancellation to zero
/// returns {kLogZero, false}.
SignedLog signed_log_add(SignedLog a, SignedLog b) noexcept;

/// log(erfc(x)), accurate in the far tail where erfc(x) underflows (x ≳ 26): there it uses
/// the asymptotic series erfc(x) = exp(−x²)/(x√π) · Σ_n (−1)^n (2n−1)!!/(2x²)^n
/// (Abramowitz & Stegun 7.1.23), truncated where its terms fall below 1e-17 at x ≥ 20.
double log_erfc(double x) noexcept;

/// log|C(n, k)| and the sign of the generalized binomial coefficient
/// C(n, k) = n(n−1)…(n−k+1)/k! for real n and integer k ≥ 0; zero when n is a
/// non-negative integer below k.
SignedLog log_binomial(double n, std::int64_t k) noexcept;

}  // namespace fedlora::privacy::logmath
