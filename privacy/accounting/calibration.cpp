#include "privacy/accounting/calibration.h"

#include <cmath>
#include <string>

#include "privacy/accounting/rdp.h"
#include "privacy/errors.h"

namespace fedlora::privacy {

NoiseCalibration noise_for_epsilon(double target_epsilon, double delta, double q,
                                   std::int64_t steps, std::span<const double> orders,
                                   double relative_tolerance) {
  if (!(target_epsilon > 0.0) || std::isinf(target_epsilon)) {
    throw InvalidPrivacyParameter("noise_for_epsilon: target epsilon " +
                                  std::to_string(target_epsilon) +
                                  " must be finite and > 0");
  }
  if (!(delta > 0.0 && delta < 1.0)) {
    throw InvalidPrivacyParameter("noise_for_epsilon: delta " + std::to_string(delta) +
                                  " must be in (0, 1)");
  }
  if (!(q > 0.0 && q <= 1.0)) {
    throw InvalidPrivacyParameter("noise_for_epsilon: sampling rate " + std::to_string(q) +
                                  " must be in (0, 1]");
  }
  if (steps < 1) {
    throw InvalidPrivacyParameter("noise_for_epsilon: steps " + std::to_string(steps) +
                                  " must be >= 1");
  }
  if (!(relative_tolerance > 0.0 && relative_tolerance < 1.0)) {
    throw InvalidPrivacyParameter("noise_for_epsilon: relative tolerance must be in (0, 1)");
  }
  validate_orders(orders);

  auto eps_at = [&](double sigma) {
    const auto rdp = compute_rdp(q, sigma, steps, orders);
    return epsilon_from_rdp(orders, rdp, delta);
  };

  constexpr double kMaxSigma = 1e6;
  int iterations = 0;
  double lo = 0.0;  // ε(0) = ∞ > target
  double hi = 1.0;
  EpsilonResult at_hi = eps_at(hi);
  while (at_hi.epsilon > target_epsilon) {
    lo = hi;
    hi *= 2.0;
    ++iterations;
    if (hi > kMaxSigma) {
      throw PrivacyError("noise_for_epsilon: even noise multiplier " +
                         std::to_string(kMaxSigma) + " gives epsilon above " +
                         std::to_string(target_epsilon) +
                         "; raise the target epsilon or lower q / steps");
    }
    at_hi = eps_at(hi);
  }
  while (hi - lo > relative_tolerance * hi) {
    const double mid = 0.5 * (lo + hi);
    const EpsilonResult at_mid = eps_at(mid);
    ++iterations;
    if (at_mid.epsilon <= target_epsilon) {
      hi = mid;
      at_hi = at_mid;
    } else {
      lo = mid;
    }
  }
  return {hi, at_hi, iterations};
}

}  // namespace fedlora::privacy
