// Adaptive clipping of user updates to a target quantile of their norms.
//
// Source: G. Andrew, O. Thakkar, H. B. McMahan, S. Ramaswamy, "Differentially Private
// Learning with Adaptive Clipping", NeurIPS 2021, Algorithms 1-2, geometric update.
// Round t with clip norm C_t, expected cohort m, target quantile γ, learning rate η:
//   device i:  b_i = 1[‖Δ_i‖₂ ≤ C_t]; reports the CENTRED bit b_i − ½ (sensitivity ½)
//              alongside its clipped update (through SecAgg in distributed mode);
//   server:    b̄_t = (Σ_i (b_i − ½) + N(0, σ_b²)) / m + ½, clamped to [0, 1]
//              C_{t+1} = C_t · exp(−η (b̄_t − γ)).
// Noise split (§3.1): the update and the count are two Gaussian queries on the same
// sampled users; with noise multipliers z_Δ (update, sensitivity C_t) and 2σ_b (count,
// sensitivity ½) they compose to one Gaussian query with z = (z_Δ^−2 + (2σ_b)^−2)^−1/2.
// To spend exactly the budget of multiplier z the update uses
//   z_Δ = (z^−2 − (2σ_b)^−2)^−1/2,          which requires 2σ_b > z.
// Accounting therefore records z (accounting_noise_multiplier), not z_Δ. The paper
// suggests σ_b = m/20, η = 0.2, γ = 0.5 and C_0 = 0.1.
// Distributed mode: each device adds N(0, σ_b²/(m_min − a_max)) to its centred bit, the
// honest-survivor rule of the update (user_level_dp.h); count_noise_stddev(kDistributed, t)
// is the older σ_b/√t, valid only if no client colludes with the coordinator.
#pragma once

#include <cstdint>

#include "privacy/user_dp/user_level_dp.h"

namespace fedlora::privacy {

struct AdaptiveClippingConfig {
  double initial_clip = 0.1;        ///< C_0 > 0
  double target_quantile = 0.5;     ///< γ ∈ [0, 1]: fraction of updates left unclipped
  double learning_rate = 0.2;       ///< η ≥ 0 of the geometric update
  double noise_multiplier = 1.0;    ///< z ≥ 0: TOTAL multiplier the accountant records
  double count_noise_stddev = 0.0;  ///< σ_b ≥ 0 on the centred count sum; > z/2 when z > 0
  std::int64_t expected_cohort = 1; ///< m ≥ 1

  /// Throws InvalidPrivacyParameter naming the first field out of its domain (including
  /// 2σ_b ≤ z, for which no z_Δ exists).
  void validate() const;
};

class AdaptiveClipping {
 public:
  explicit AdaptiveClipping(const AdaptiveClippingConfig& config);
  /// Resumes at a stored clip norm (> 0, finite).
  static AdaptiveClipping resume(const AdaptiveClippingConfig& config, double clip_norm);

  /// C_t, to send to the devices of this round.
  [[nodiscard]] double clip_norm() const { return clip_; }
  /// z_Δ: the noise multiplier for the update (UserDpConfig::noise_multiplier). 0 if z = 0.
  [[nodiscard]] double update_noise_multiplier() const { return update_z_; }
  /// z: the multiplier to record in UserLevelAccountant.
  [[nodiscard]] double accounting_noise_multiplier() const { return config_.noise_multiplier; }
  /// σ_b in central mode, σ_b/√t per device in distributed mode.
  [[nodiscard]] double count_noise_stddev(NoiseMode mode, std::int64_t min_contributors) const;
  /// σ_b/√(m_min − a_max): per-device std of the clip-indicator noise calibrated to honest
  /// survivors (user_level_dp.h). m_min > a_max ≥ 0, else InvalidPrivacyParameter.
  [[nodiscard]] double count_noise_stddev_honest(std::int64_t min_survivors,
                                                 std::int64_t max_corrupt_clients) const;
  [[nodiscard]] const AdaptiveClippingConfig& config() const { return config_; }

  /// Device side: b_i − ½ with b_i = 1[pre_clip_norm ≤ clip] (+½ or −½).
  /// Throws NonFiniteValueError on a NaN/Inf norm.
  static double centred_clip_indicator(double pre_clip_norm, double clip);

  /// Server side: takes Σ_i (b_i − ½) plus its noise, sets C_{t+1} and returns b̄_t.
  /// Throws NonFiniteValueError if the sum is NaN/Inf.
  double update(double noised_centred_indicator_sum);

 private:
  AdaptiveClippingConfig config_;
  double clip_;
  double update_z_;
};

}  // namespace fedlora::privacy
