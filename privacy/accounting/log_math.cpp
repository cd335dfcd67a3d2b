#include "privacy/accounting/log_math.h"

#include <math.h>  // lgamma_r: the reentrant lgamma (std::lgamma writes the global signgam)

#include <algorithm>
#include <cmath>
#include <numbers>

namespace fedlora::privacy::logmath {

double log_add(double log_x, double log_y) noexcept {
  const double lo = std::min(log_x, log_y);
  const double hi = std::max(log_x, log_y);
  if (lo == kLogZero) return hi;
  return hi + std::log1p(std::exp(lo - hi));
}

SignedLog signed_log_add(SignedLog a, SignedLog b) noexcept {
  if (a.log_abs == kLogZero) return b;
  if (b.log_abs == kLogZero) return a;
  if (a.negative == b.negative) return {log_add(a.log_abs, b.log_abs), a.negative};
  // Opposite signs: |a + b| = |big| − |small|, with the sign of the bigger one.
  const SignedLog& big = a.log_abs >= b.log_abs ? a : b;
  const SignedLog& small = a.log_abs >= b.log_abs ? b : a;
  if (big.log_abs == small.log_abs) return {};
  return {big.log_abs + std::log1p(-std::exp(small.log_abs - big.log_abs)), big.negative};
}

double log_erfc(double x) noexcept {
  // glibc's erfc keeps full relative precision down to ~1e-300; switch to the series at
  // x = 20 (erfc ≈ 5e-176), where its first omitted term is ~1e-17 relative.
  if (x < 20.0) return std::log(std::erfc(x));
  const double inv_2x2 = 1.0 / (2.0 * x * x);
  double term = 1.0;
  double series = 0.0;  // Σ_{n≥1} (−1)^n (2n−1)!! / (2x²)^n
  for (int n = 1; n <= 8; ++n) {
    term *= -(2.0 * n - 1.0) * inv_2x2;
    series += term;
  }
  return -x * x - std::log(x) - 0.5 * std::log(std::numbers::pi) + std::log1p(series);
}

SignedLog log_binomial(double n, std::int64_t k) noexcept {
  const double kd = static_cast<double>(k);
  const double rest = n - kd + 1.0;
  if (rest <= 0.0 && rest == std::floor(rest)) return {};  // Γ pole: C(n, k) = 0
  int sign_n = 1, sign_k = 1, sign_rest = 1;
  const double lg_n = lgamma_r(n + 1.0, &sign_n);
  const double lg_k = lgamma_r(kd + 1.0, &sign_k);
  const double lg_rest = lgamma_r(rest, &sign_rest);
  return {lg_n - lg_k - lg_rest, sign_n * sign_k * sign_rest < 0};
}

}  // namespace fedlora::privacy::logmath
