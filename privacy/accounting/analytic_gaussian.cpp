#include "privacy/accounting/analytic_gaussian.h"

#include <cmath>
#include <limits>
#include <string>

#include "privacy/errors.h"

namespace fedlora::privacy {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// log Φ(x) via erfc, which keeps relative precision in the lower tail (x down to about
// −38, where Φ underflows; −∞ is returned there).
double log_normal_cdf(double x) {
  const double p = 0.5 * std::erfc(-x / std::sqrt(2.0));
  return p > 0.0 ? std::log(p) : -kInf;
}

void check_mu(double mu, const char* where) {
  if (!(mu >= 0.0)) {
    throw InvalidPrivacyParameter(std::string(where) + ": mu (sensitivity / noise std) " +
                                  std::to_string(mu) + " must be >= 0");
  }
}

}  // namespace

double analytic_gaussian_delta(double mu, double epsilon) {
  check_mu(mu, "analytic_gaussian_delta");
  if (!(epsilon >= 0.0)) {
    throw InvalidPrivacyParameter("analytic_gaussian_delta: epsilon " +
                                  std::to_string(epsilon) + " must be >= 0");
  }
  if (mu == 0.0) return 0.0;
  if (std::isinf(mu)) return 1.0;
  if (std::isinf(epsilon)) return 0.0;
  const double a = mu / 2.0 - epsilon / mu;
  const double b = -mu / 2.0 - epsilon / mu;
  // e^ε Φ(b) in log space: e^ε alone overflows for ε > 709.
  const double first = std::exp(log_normal_cdf(a));
  const double second = std::exp(epsilon + log_normal_cdf(b));
  const double d = first - second;
  return d > 0.0 ? d : 0.0;
}

double analytic_gaussian_epsilon(double mu, double delta) {
  check_mu(mu, "analytic_gaussian_epsilon");
  if (!(delta > 0.0 && delta < 1.0)) {
    throw InvalidPrivacyParameter("analytic_gaussian_epsilon: delta " + std::to_string(delta) +
                                  " must be in (0, 1)");
  }
  if (std::isinf(mu)) return kInf;
  if (analytic_gaussian_delta(mu, 0.0) <= delta) return 0.0;
  // δ(ε) is decreasing in ε: bracket, then bisect.
  double lo = 0.0, hi = 1.0;
  while (analytic_gaussian_delta(mu, hi) > delta) {
    lo = hi;
    hi *= 2.0;
    if (hi > 1e300) return kInf;
  }
  for (int i = 0; i < 200 && hi - lo > 1e-12 * hi; ++i) {
    const double mid = 0.5 * (lo + hi);
    if (analytic_gaussian_delta(mu, mid) > delta) {
      lo = mid;
    } else {
      hi = mid;
    }
  }
  return hi;
}

double gaussian_mu_from_sum_inverse_sigma2(double sum_inverse_sigma2) {
  if (!(sum_inverse_sigma2 >= 0.0)) {
    throw InvalidPrivacyParameter("gaussian_mu_from_sum_inverse_sigma2: sum of 1/sigma^2 " +
                                  std::to_string(sum_inverse_sigma2) + " must be >= 0");
  }
  return std::sqrt(sum_inverse_sigma2);
}

}  // namespace fedlora::privacy
