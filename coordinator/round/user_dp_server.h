#pragma once
// The coordinator's half of user-level DP: what devices are told each round, the noise on
// the sum, the clip-norm update, and the privacy accounting — reported per adversary.
//
// Mechanisms:
//  * DP-FedAvg (McMahan et al. ICLR 2018, Alg. 1; adaptive clipping, Andrew et al. NeurIPS
//    2021, Alg. 1): Poisson cohorts, per-round Gaussian noise, central (added here) or
//    distributed (added on devices, calibrated to honest survivors: each adds
//    σS/√(m_min − a_max), and a sum with fewer than m_min = t + a_max contributors is not
//    released; privacy/user_dp/user_level_dp.h).
//  * DP-FTRL with tree aggregation (Kairouz et al. ICML 2021, Alg. 1, TreeRestart): fixed
//    cohorts without sampling, each user at most once per tree, central tree noise on the
//    prefix sums (privacy/ftrl/dp_ftrl.h).
//
// ε per adversary (privacy/accounting/epsilon_by_adversary.h):
//  * released model — anyone who sees the released adapters but not who took part.
//    DP-FedAvg: amplified by Poisson sampling (valid only while cohort membership is
//    secret). DP-FTRL: the tree accountant, no sampling assumed.
//  * coordinator — it draws the cohorts and sees the sums: each user's own participations at
//    q = 1 with the noise it cannot remove (distributed DP-FedAvg), +∞ when it adds the noise
//    itself (central modes, DP-FTRL).
// A round that aborts after its cohort was drawn is charged too: whether it aborts can
// depend on who was sampled.
#include <Eigen/Core>

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "coordinator/protocol/round_instructions.h"
#include "coordinator/strategy/update_aggregate.h"
#include "privacy/accounting/epsilon_by_adversary.h"
#include "privacy/accounting/participation_accountant.h"
#include "privacy/accounting/user_level_accountant.h"
#include "privacy/ftrl/dp_ftrl.h"
#include "privacy/noise/noise_source.h"
#include "privacy/user_dp/adaptive_clipping.h"
#include "privacy/user_dp/user_level_dp.h"

namespace fedlora::coordinator {

enum class UserDpMechanism { kDpFedAvg, kDpFtrl };

struct UserDpSettings {
  UserDpMechanism mechanism = UserDpMechanism::kDpFedAvg;
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
  int64_t max_participations = 0;  ///< cap on a user's participations (0 = none)
  double corrupt_fraction = 0.0;   ///< α: up to ⌊α n⌋ devices of a cohort of n may collude (a_max)
  int64_t ftrl_restart_every = 0;  ///< DP-FTRL: rounds per tree (each user at most once per tree)
  /// Distributed mode: DP survivor floor m_min; a round's sum is released only with at least
  /// max(min_survivors, t + a_max) contributors, and each device adds σS/√(m_min − a_max).
  /// A floor near the expected survivors keeps the total noise near σ²S²; 0 = t + a_max.
  int64_t min_survivors = 0;
  /// Throws privacy::InvalidPrivacyParameter naming the bad field.
  void validate() const;
};

/// What every device of a round receives: clip S_t, noise multiplier for the update, mode,
/// honest-survivor floor, and (adaptive clipping) the std of the noise on its clip indicator.
/// Part of the round instructions.
using DeviceDpInstructions = protocol::UserDpInstructions;

class UserDpServer {
 public:
  /// `noise` supplies the central noise (from_os_entropy unless the run opted into
  /// reproducible noise); `dimension` d is the flat adapter length (DP-FTRL keeps d-vectors).
  /// Throws InvalidPrivacyParameter.
  UserDpServer(const UserDpSettings& settings, privacy::NoiseSource noise, int64_t dimension);
  ~UserDpServer();
  UserDpServer(UserDpServer&&) noexcept;
  UserDpServer& operator=(UserDpServer&&) noexcept;

  /// Instructions for a round of `cohort` selected devices whose sum is released only with
  /// at least `secagg_threshold` (t) contributors (1 without SecAgg). Distributed noise is
  /// calibrated to m_min − a_max honest survivors, a_max = ⌊corrupt_fraction · cohort⌋.
  DeviceDpInstructions instructions(int64_t cohort, int64_t secagg_threshold) const;

  /// False if `user` may not be drawn: its participation cap is reached, or (DP-FTRL) it
  /// already contributed to the current tree.
  bool can_participate(std::uint64_t user) const;
  /// True if the cohort is drawn by Poisson sampling (DP-FedAvg), false for DP-FTRL.
  bool poisson_cohorts() const { return settings_.mechanism == UserDpMechanism::kDpFedAvg; }

  /// Finalises a round's aggregate of uniformly weighted, clipped updates in place
  /// (weighted_sum = Σ Δ_i over `participants`, total_weight = contributors,
  /// expected_cohort_size = K) under the round's `instructions`:
  ///  DP-FedAvg central: adds N(0, σ_Δ²S²); distributed: refuses (PrivacyError) a sum of
  ///  fewer than m_min contributors; DP-FTRL: replaces the sum by K times the tree's noised
  ///  model delta. With adaptive clipping `clip_indicator_sum` is Σ(b_i − ½) as received
  ///  and sets the next clip. Records the round for both adversaries; returns ε after it.
  privacy::EpsilonByAdversary finalize(UpdateAggregate& aggregate, const DeviceDpInstructions& instructions,
                                       std::optional<double> clip_indicator_sum,
                                       std::span<const std::uint64_t> participants);
  /// Charges a round that aborted after its cohort was drawn (released-model accountant: a
  /// full round; coordinator accountant: no participant; DP-FTRL: an empty leaf).
  void charge_aborted_round();

  privacy::EpsilonByAdversary epsilon() const;
  double clip_norm() const;
  double update_noise_multiplier() const;
  const UserDpSettings& settings() const { return settings_; }

  /// What a checkpoint needs to resume accounting and adaptive clipping exactly.
  struct State {
    std::int64_t rounds = 0;   ///< rounds recorded in the released-model accountant
    std::vector<double> rdp;   ///< its accumulated RDP at the accountant's orders
    double clip_norm = 0.0;    ///< current clip (adaptive clipping; else the fixed S)
    privacy::ParticipationAccountantState participation;
  };
  /// Throws PrivacyError for DP-FTRL, whose tree state is not checkpointed yet.
  State state() const;
  /// Resumes from `state` (same settings). Throws InvalidPrivacyParameter if it does not fit.
  void restore(const State& state);

 private:
  privacy::EpsilonResult released_model_epsilon() const;
  UserDpSettings settings_;
  privacy::NoiseSource noise_;
  privacy::UserLevelAccountant accountant_;
  privacy::ParticipationAccountant participation_;
  std::optional<privacy::AdaptiveClipping> adaptive_;
  std::unique_ptr<privacy::DpFtrlAggregator> ftrl_;
  std::vector<std::int64_t> ftrl_steps_per_tree_;       // leaves of every tree so far
  std::vector<std::uint64_t> ftrl_tree_participants_;   // users of the current tree (sorted)
};

}  // namespace fedlora::coordinator
