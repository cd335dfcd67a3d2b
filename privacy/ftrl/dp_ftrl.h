// DP-FTRL for the federation: tree-aggregated noise on the prefix sums of the rounds'
// clipped update sums, instead of independent per-round noise with sampling.
//
// Source: P. Kairouz, B. McMahan, S. Song, O. Thakkar, A. Thakurta, Z. Xu, "Practical and
// Private (Deep) Learning without Sampling or Shuffling", ICML 2021, Algorithm 1 (DP-FTRL,
// here without momentum), §4 TreeRestart; the FL use is their §5 / Google's Gboard
// deployment. Round t of the current tree:
//   Σ_t   = Σ_i clip(Δ_i, S)                      (coordinator: sum over the cohort)
//   P_t   = Σ_{s ≤ t} Σ_s + tree noise(t)          (noised prefix sum of this tree)
//   model_delta_t = (P_t − P_{t−1}) / K,  P_0 = 0   (K = expected cohort, fixed denominator)
// Adding η · model_delta_t to the model each round telescopes to θ_t = θ_start + η P_t/K,
// the FTRL iterate with a linear loss model (θ_start: the model when the tree started).
// Any server optimizer applied to model_delta remains post-processing (still private), but
// only plain η·model_delta gives the FTRL iterate; momentum/Adam are not covered here.
//
// Privacy: every round is one leaf, including rounds with no contributors (pass a zero sum),
// so that the leaf count matches the accountant. A user whose update is in at most one
// round per tree (restart_every rounds) is covered by tree_restart_rdp; more participations
// per tree need tree_aggregation_rdp with max_participations / min_separation, which the
// coordinator must then enforce when drawing cohorts. The noise is CENTRAL: the coordinator
// adds it and knows it, so the guarantee holds against the released models (with or without
// knowledge of the cohorts), not against the coordinator.
#pragma once

#include <Eigen/Core>
#include <cstdint>
#include <span>

#include "privacy/ftrl/tree_aggregation_noise.h"
#include "privacy/noise/noise_source.h"

namespace fedlora::privacy {

struct DpFtrlConfig {
  double noise_multiplier = 1.0;      ///< σ ≥ 0: node noise std / S
  double l2_norm_clip = 1.0;          ///< S > 0: bound on every user's ‖Δ‖₂ per round
  std::int64_t restart_every = 0;     ///< rounds per tree (N ≥ 1), 0 = one tree for the run
  std::int64_t expected_cohort = 1;   ///< K ≥ 1: divisor of the sums

  /// Throws InvalidPrivacyParameter naming the first field out of its domain.
  void validate() const;
};

/// The outcome of one round.
struct DpFtrlRound {
  Eigen::VectorXd noised_prefix_sum;  ///< P_t (d): prefix sum of this tree's round sums + noise
  Eigen::VectorXd model_delta;        ///< (P_t − P_{t−1}) / K (d): add η times this to the model
  std::int64_t leaf = 0;              ///< t: rounds in the current tree including this one
  std::int64_t tree = 0;              ///< 1-based index of the current tree
  bool tree_restarted = false;        ///< this round started a new tree (P_{t−1} taken as 0)
};

class DpFtrlAggregator {
 public:
  /// dimension d ≥ 1 of the flat adapter update; `noise`: NoiseSource::from_os_entropy()
  /// in production. Throws InvalidPrivacyParameter on a bad config or dimension.
  DpFtrlAggregator(std::int64_t dimension, const DpFtrlConfig& config, NoiseSource noise);

  /// One round: takes the sum of the cohort's CLIPPED updates (d doubles; not noised) and
  /// returns the noised prefix sum and the model update. Throws InvalidPrivacyParameter on a
  /// dimension mismatch and NonFiniteValueError (state untouched) on NaN/Inf input.
  DpFtrlRound aggregate(std::span<const double> clipped_sum);

  [[nodiscard]] const DpFtrlConfig& config() const { return config_; }
  [[nodiscard]] std::int64_t rounds() const { return rounds_; }
  [[nodiscard]] const TreeAggregationNoise& tree() const { return tree_; }

 private:
  DpFtrlConfig config_;
  TreeAggregationNoise tree_;
  Eigen::VectorXd true_prefix_;   // Σ_{s≤t} Σ_s of the current tree
  Eigen::VectorXd last_noised_;   // P_{t−1}
  std::int64_t rounds_ = 0;
};

}  // namespace fedlora::privacy
