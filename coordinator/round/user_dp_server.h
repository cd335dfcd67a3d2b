#pragma once
// The coordinator's half of user-level DP (DP-FedAvg, McMahan et al. ICLR 2018, Alg. 1;
// adaptive clipping, Andrew et al. NeurIPS 2021, Alg. 1): what it tells devices each
// round, the noise it adds to the sum (central mode) or the survivor check (distributed
// mode), the clip-norm update, and the user-level (ε, δ) accounting.
#include <Eigen/Core>

#include <cstdint>
#include <optional>
#include <vector>

#include "coordinator/protocol/round_instructions.h"
#include "coordinator/strategy/update_aggregate.h"
#include "privacy/accounting/user_level_accountant.h"
#include "privacy/noise/noise_source.h"
#include "privacy/user_dp/adaptive_clipping.h"
#include "privacy/user_dp/user_level_dp.h"

namespace fedlora::coordinator {

struct UserDpSettings {
  privacy::NoiseMode mode = privacy::NoiseMode::kCentral;
  double noise_multiplier = 1.0;   ///< z: total multiplier, what the accountant records
  double l2_norm_clip = 1.0;       ///< S (the initial clip C_0 with adaptive clipping)
  bool adaptive_clipping = false;
  double target_quantile = 0.5;    ///< γ (adaptive)
  double clip_learning_rate = 0.2; ///< η (adaptive)
  double count_noise_stddev = 0;   ///< σ_b (adaptive); 0 = max(K/20 (Andrew et al. §3), z)
  int64_t expected_cohort = 1;     ///< K: the divisor, q = K / population
  int64_t population = 1;
  double delta = 1e-5;             ///< δ at which ε is reported
  /// Throws privacy::InvalidPrivacyParameter naming the bad field.
  void validate() const;
};

/// What every device of a round receives: clip S_t, noise multiplier for the update, mode,
/// threshold t, and (adaptive clipping) the std of the noise on its clip indicator
/// (σ_b/√t distributed, 0 central). Part of the round instructions.
using DeviceDpInstructions = protocol::UserDpInstructions;

class UserDpServer {
 public:
  /// `noise` supplies the central noise (from_os_entropy in a deployment, from_seed in the
  /// simulator). Throws InvalidPrivacyParameter.
  UserDpServer(const UserDpSettings& settings, privacy::NoiseSource noise);

  /// Instructions for a round whose sum will only be released with at least
  /// `min_contributors` (t) devices (the SecAgg threshold; 1 without SecAgg).
  DeviceDpInstructions instructions(int64_t min_contributors) const;

  /// Finalises a round's aggregate of uniformly weighted, clipped device updates in place
  /// (weighted_sum = Σ Δ_i, total_weight = contributors, expected_cohort_size = K):
  /// central mode adds N(0, σ_Δ²S²) per coordinate; distributed mode checks
  /// contributors ≥ t (privacy::PrivacyError otherwise: the sum would carry too little
  /// noise). With adaptive clipping, `clip_indicator_sum` is Σ(b_i − ½) as received (device
  /// noise included in distributed mode; central noise is added here) and sets the next clip.
  /// Then records the round in the accountant and returns ε after it.
  privacy::EpsilonResult finalize(UpdateAggregate& aggregate, int64_t min_contributors,
                                  std::optional<double> clip_indicator_sum);

  privacy::EpsilonResult epsilon() const { return accountant_.epsilon(); }

  /// What a checkpoint needs to resume accounting and adaptive clipping exactly.
  struct State {
    std::int64_t rounds = 0;   ///< rounds recorded in the accountant
    std::vector<double> rdp;   ///< accumulated RDP at the accountant's orders
    double clip_norm = 0.0;    ///< current clip (adaptive clipping; else the fixed S)
  };
  State state() const;
  /// Resumes from `state` (same settings). Throws InvalidPrivacyParameter if it does not fit.
  void restore(const State& state);
  double clip_norm() const;
  double update_noise_multiplier() const;
  const UserDpSettings& settings() const { return settings_; }

 private:
  UserDpSettings settings_;
  privacy::NoiseSource noise_;
  privacy::UserLevelAccountant accountant_;
  std::optional<privacy::AdaptiveClipping> adaptive_;
};

}  // namespace fedlora::coordinator
