// User-level DP for the federation: DP-FedAvg with central or distributed Gaussian noise.
//
// Source: H. B. McMahan, D. Ramage, K. Talwar, L. Zhang, "Learning Differentially Private
// Recurrent Language Models", ICLR 2018, Algorithm 1 (DP-FedAvg) with the fixed-denominator
// estimator: every device clips its adapter update Δ to L2 norm S, the sum over the cohort
// carries N(0, σ²S²) per coordinate, and the noised sum is divided by the EXPECTED cohort
// size K (not by the number of survivors).
//
// Two modes:
//  * kCentral — the coordinator is trusted and sees the sum: devices only clip; the
//    coordinator adds N(0, σ²S²) once (central_noise_stddev).
//  * kDistributed — used with secure aggregation, where the coordinator never sees any Δ:
//    each device adds N(0, σ²S²/t) (per_device_noise_stddev), t = the minimum number of
//    contributors the round accepts (the SecAgg reconstruction threshold). Any unmasked sum
//    has n ≥ t contributions, hence variance n·σ²S²/t ≥ σ²S²: at least the noise the
//    accountant assumes, even after dropouts (at the price of over-noising when n > t).
//    Finalising a distributed-mode sum with fewer than t contributors is refused.
// The accountant records σ (user_level_accountant.h) in both modes.
#pragma once

#include <cstdint>
#include <span>

#include "privacy/noise/noise_source.h"

namespace fedlora::privacy {

/// Where the user-level Gaussian noise is added.
enum class NoiseMode { kCentral, kDistributed };

/// One round's user-level DP settings (the coordinator sends them to devices).
struct UserDpConfig {
  double l2_norm_clip = 1.0;          ///< S > 0: bound on every device's ‖Δ‖₂
  double noise_multiplier = 1.0;      ///< σ ≥ 0 applied to the update (z_Δ with adaptive clipping)
  NoiseMode mode = NoiseMode::kDistributed;
  std::int64_t min_contributors = 1;  ///< t ≥ 1: SecAgg threshold (distributed mode)
  std::int64_t expected_cohort = 1;   ///< K ≥ 1: divisor of the sum; K ≥ t in distributed mode

  /// Throws InvalidPrivacyParameter naming the first field out of its domain.
  void validate() const;
};

/// σ·S: std of the noise the coordinator adds to the sum in central mode.
double central_noise_stddev(double noise_multiplier, double l2_norm_clip);

/// σ·S/√t: std of the noise every device adds in distributed mode. t ≥ 1.
double per_device_noise_stddev(double noise_multiplier, double l2_norm_clip,
                               std::int64_t min_contributors);

/// What a device did to its update.
struct DeviceUpdateReport {
  double pre_clip_norm;  ///< ‖Δ‖₂ before clipping
  bool clipped;          ///< pre_clip_norm > S
  double noise_stddev;   ///< per-coordinate std added on the device (0 in central mode)
};

/// Device side, in place on the flat adapter update Δ: clip to S, then in distributed mode
/// add N(0, σ²S²/t) per coordinate. Throws NonFiniteValueError (Δ untouched) if Δ holds
/// NaN/Inf; InvalidPrivacyParameter for a bad config.
DeviceUpdateReport privatize_device_update(std::span<float> delta, const UserDpConfig& config,
                                           NoiseSource& noise);

/// Coordinator side, in place on the unmasked sum of `contributors` device updates: in
/// central mode adds N(0, σ²S²); in distributed mode checks contributors ≥ t (throws
/// PrivacyError otherwise: the sum would carry too little noise). Then divides by K.
/// Throws NonFiniteValueError if the sum holds NaN/Inf.
void finalize_user_dp_average(std::span<float> sum, std::int64_t contributors,
                              const UserDpConfig& config, NoiseSource& noise);

}  // namespace fedlora::privacy
