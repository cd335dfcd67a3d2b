// User-level privacy accounting for the coordinator (DP-FedAvg).
//
// Source: H. B. McMahan, D. Ramage, K. Talwar, L. Zhang, "Learning Differentially Private
// Recurrent Language Models", ICLR 2018 (arXiv:1710.06963), §2-3: each round samples
// users independently with probability q = (expected cohort) / population, every user's
// clipped update has L2 sensitivity S, and the sum carries N(0, σ²S²) noise; one round is
// one step of the Poisson-subsampled Gaussian mechanism with noise multiplier σ, accounted
// with the RDP moments accountant (rdp.h) and reported as (ε, δ) (epsilon.h).
//
// Adversary: this ε is amplified by sampling and therefore holds only against someone who
// sees the released models but not the cohorts. Against the coordinator, which draws the
// cohorts, use ParticipationAccountant (participation_accountant.h); EpsilonByAdversary
// (epsilon_by_adversary.h) reports both.
//
// What σ to record (the same σ goes to ParticipationAccountant):
//  * fixed clipping, central or distributed noise: the configured noise multiplier
//    (distributed noise meets it whenever at least m_min = UserDpConfig::survivor_floor()
//    devices survive, of which at most a_max collude; finalize_user_dp_average refuses
//    fewer);
//  * adaptive clipping (Andrew et al. 2021): the TOTAL multiplier z, i.e.
//    AdaptiveClipping::accounting_noise_multiplier(). The update itself is noised with the
//    larger z_Δ, but the noised clip-count is a second query on the same users; the two
//    compose to z = (z_Δ^−2 + (2σ_b)^−2)^−1/2. Recording z_Δ would under-report ε.
// The bound assumes the cohort is Poisson-sampled (each user independently with
// probability q); fixed-size cohorts are sampling without replacement and are not covered.
#pragma once

#include <cstdint>
#include <vector>

#include "privacy/accounting/rdp_accountant.h"

namespace fedlora::privacy {

class UserLevelAccountant {
 public:
  /// population ≥ 1 users; δ ∈ (0, 1) is the user-level δ ε is reported at (commonly
  /// below 1/population).
  UserLevelAccountant(std::int64_t population, double delta,
                      std::vector<double> orders = default_orders());

  /// Restores the state saved from rounds(), accountant().rdp() and the constructor
  /// arguments. Throws InvalidPrivacyParameter on inconsistent input.
  static UserLevelAccountant from_state(std::int64_t population, double delta,
                                        std::vector<double> orders, std::vector<double> rdp,
                                        std::int64_t rounds);

  /// Records one round with q = expected_cohort / population and noise multiplier σ
  /// (see the header comment for which σ). 1 ≤ expected_cohort ≤ population, σ ≥ 0.
  /// Returns ε after this round.
  EpsilonResult record_round(std::int64_t expected_cohort, double noise_multiplier);

  /// ε at the configured δ after all recorded rounds (0 before the first round).
  [[nodiscard]] EpsilonResult epsilon() const { return accountant_.epsilon(delta_); }

  [[nodiscard]] std::int64_t rounds() const { return rounds_; }
  [[nodiscard]] std::int64_t population() const { return population_; }
  [[nodiscard]] double delta() const { return delta_; }
  [[nodiscard]] const RdpAccountant& accountant() const { return accountant_; }

 private:
  std::int64_t population_;
  double delta_;
  RdpAccountant accountant_;
  std::int64_t rounds_ = 0;
};

}  // namespace fedlora::privacy
