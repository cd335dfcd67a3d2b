#include "privacy/accounting/rdp_accountant.h"

#include <cmath>
#include <string>
#include <utility>

#include "privacy/errors.h"

namespace fedlora::privacy {

RdpAccountant::RdpAccountant(std::vector<double> orders)
    : orders_(std::move(orders)), rdp_(orders_.size(), 0.0) {
  validate_orders(orders_);
}

RdpAccountant RdpAccountant::from_state(std::vector<double> orders, std::vector<double> rdp) {
  RdpAccountant acc(std::move(orders));
  acc.compose_rdp(rdp);
  return acc;
}

void RdpAccountant::compose_rdp(std::span<const double> rdp) {
  if (rdp.size() != orders_.size()) {
    throw InvalidPrivacyParameter("RdpAccountant: RDP curve has " + std::to_string(rdp.size()) +
                                  " values but the accountant has " +
                                  std::to_string(orders_.size()) + " orders");
  }
  for (double r : rdp) {
    if (!(r >= 0.0)) {
      throw InvalidPrivacyParameter("RdpAccountant: RDP value " + std::to_string(r) +
                                    " is negative or NaN");
    }
  }
  for (std::size_t i = 0; i < rdp.size(); ++i) rdp_[i] += rdp[i];
}

void RdpAccountant::compose_poisson_gaussian(double q, double noise_multiplier,
                                             std::int64_t steps) {
  compose_rdp(compute_rdp(q, noise_multiplier, steps, orders_));
}

void RdpAccountant::compose_gaussian(double noise_multiplier, std::int64_t count) {
  compose_poisson_gaussian(1.0, noise_multiplier, count);
}

RdpAccountant RdpAccountant::with_poisson_gaussian(double q, double noise_multiplier,
                                                   std::int64_t steps) const {
  RdpAccountant copy = *this;
  copy.compose_poisson_gaussian(q, noise_multiplier, steps);
  return copy;
}

EpsilonResult RdpAccountant::epsilon(double delta) const {
  return epsilon_from_rdp(orders_, rdp_, delta);
}

DeltaResult RdpAccountant::delta(double epsilon) const {
  return delta_from_rdp(orders_, rdp_, epsilon);
}

double composed_noise_multiplier(std::span<const double> noise_multipliers) {
  if (noise_multipliers.empty()) {
    throw InvalidPrivacyParameter("composed_noise_multiplier: no noise multipliers given");
  }
  double sum_inv_sq = 0.0;
  for (double z : noise_multipliers) {
    if (!(z > 0.0) || std::isinf(z)) {
      throw InvalidPrivacyParameter("composed_noise_multiplier: noise multiplier " +
                                    std::to_string(z) + " must be finite and > 0");
    }
    sum_inv_sq += 1.0 / (z * z);
  }
  return 1.0 / std::sqrt(sum_inv_sq);
}

}  // namespace fedlora::privacy
