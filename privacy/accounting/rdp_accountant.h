// A composable RDP accountant: accumulates heterogeneous Poisson-subsampled Gaussian steps
// (different q and σ per round) over a fixed set of orders. RDP composes by addition at
// every order (Mironov 2017, Prop. 1), so the state is one RDP value per order.
//
// Only Poisson sampling is accounted here. Fixed-size batches drawn without replacement
// are a different mechanism (Wang, Balle, Kasiviswanathan 2019) and are deliberately not
// offered: a caller that samples that way must not use this accountant.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "privacy/accounting/epsilon.h"
#include "privacy/accounting/rdp.h"

namespace fedlora::privacy {

class RdpAccountant {
 public:
  /// Starts from zero spending over `orders` (validated as in rdp.h).
  explicit RdpAccountant(std::vector<double> orders = default_orders());

  /// Restores an accountant from a stored curve. Throws InvalidPrivacyParameter if the
  /// lengths differ, an order is invalid, or an RDP value is negative or NaN.
  static RdpAccountant from_state(std::vector<double> orders, std::vector<double> rdp);

  /// Adds `steps` steps of the Poisson-subsampled Gaussian mechanism with sampling rate q
  /// and noise multiplier σ (see compute_rdp). steps ≥ 0.
  void compose_poisson_gaussian(double q, double noise_multiplier, std::int64_t steps = 1);

  /// Adds `count` plain Gaussian mechanisms (q = 1): RDP α/(2σ²) each.
  void compose_gaussian(double noise_multiplier, std::int64_t count = 1);

  /// Adds a precomputed RDP curve over the same orders (same length, values ≥ 0).
  void compose_rdp(std::span<const double> rdp);

  /// A copy with `steps` more Poisson-subsampled Gaussian steps; `*this` is unchanged.
  [[nodiscard]] RdpAccountant with_poisson_gaussian(double q, double noise_multiplier,
                                                    std::int64_t steps) const;

  [[nodiscard]] std::span<const double> orders() const { return orders_; }
  [[nodiscard]] std::span<const double> rdp() const { return rdp_; }

  /// (ε, optimal order) for the accumulated curve at δ ∈ (0, 1) (epsilon.h).
  [[nodiscard]] EpsilonResult epsilon(double delta) const;
  /// (δ, optimal order) for the accumulated curve at ε ≥ 0 (epsilon.h).
  [[nodiscard]] DeltaResult delta(double epsilon) const;

 private:
  std::vector<double> orders_;
  std::vector<double> rdp_;
};

/// Effective noise multiplier of several Gaussian queries answered on the same sampled
/// data in one step: z = (Σ_i z_i^−2)^−1/2 (Andrew et al. 2021 §3.1; McMahan et al. 2018,
/// arXiv:1812.06210 §3). Each z_i > 0; throws InvalidPrivacyParameter otherwise.
double composed_noise_multiplier(std::span<const double> noise_multipliers);

}  // namespace fedlora::privacy
