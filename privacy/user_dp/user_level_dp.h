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
//    each device adds N(0, σ²S²/(m_min − a_max)) (per_device_noise_stddev_honest) and the
//    round is aborted with fewer than m_min survivors (the DP survivor floor).
//
// Honest survivors. A device is HONEST if it follows the protocol: it adds its noise share
// and never reveals it. Up to a_max clients (max_corrupt_clients, the same collusion bound
// the SecAgg parameters assume) may be corrupt and collude with the coordinator: a corrupt
// survivor can omit its noise or hand it to the coordinator, who subtracts it. Only the
// honest survivors' noise therefore counts. With n ≥ m_min survivors of which at most a_max
// are corrupt, at least m_min − a_max honest shares remain, of total variance
// (m_min − a_max)·σ²S²/(m_min − a_max) = σ²S²: the noise the accountant assumes, against
// the released model AND against a coordinator colluding with a_max clients. The floor
// must satisfy m_min ≥ t + a_max (t = the SecAgg threshold; dp_survivor_floor gives the
// smallest admissible value), so that the honest survivors alone still reach t. The same
// rule applies to the clip-indicator noise of adaptive clipping
// (AdaptiveClipping::count_noise_stddev_honest). With a_max = 0 and m_min = t this is the
// former calibration σS/√t, which is only valid if no client colludes with the coordinator.
// The price is over-noising when more than m_min − a_max honest devices survive.
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
  /// a_max ≥ 0: clients assumed corrupt and colluding with the coordinator (distributed mode).
  std::int64_t max_corrupt_clients = 0;
  /// m_min: DP survivor floor (distributed mode); 0 = the smallest admissible, t + a_max.
  /// Otherwise t + a_max ≤ m_min ≤ K.
  std::int64_t min_survivors = 0;

  /// Throws InvalidPrivacyParameter naming the first field out of its domain.
  void validate() const;
  /// m_min actually enforced: min_survivors, or t + a_max when it is 0.
  [[nodiscard]] std::int64_t survivor_floor() const;
};

/// σ·S: std of the noise the coordinator adds to the sum in central mode.
double central_noise_stddev(double noise_multiplier, double l2_norm_clip);

/// σ·S/√t: std of the noise every device adds if all t survivors are honest. t ≥ 1.
/// Superseded by per_device_noise_stddev_honest when clients may collude.
double per_device_noise_stddev(double noise_multiplier, double l2_norm_clip,
                               std::int64_t min_contributors);

/// m_min = t + a_max: the smallest DP survivor floor for SecAgg threshold t ≥ 1 and at most
/// a_max ≥ 0 corrupt clients (see the header comment). Throws InvalidPrivacyParameter.
std::int64_t dp_survivor_floor(std::int64_t secagg_threshold, std::int64_t max_corrupt_clients);

/// σ·S/√(m_min − a_max): std of the noise every device adds so that the honest survivors of
/// any round with ≥ m_min survivors carry total variance ≥ σ²S². σ ≥ 0, S > 0,
/// a_max ≥ 0, m_min > a_max. Throws InvalidPrivacyParameter.
double per_device_noise_stddev_honest(double noise_multiplier, double l2_norm_clip,
                                      std::int64_t min_survivors,
                                      std::int64_t max_corrupt_clients);

/// What a device did to its update.
struct DeviceUpdateReport {
  double pre_clip_norm;  ///< ‖Δ‖₂ before clipping
  bool clipped;          ///< pre_clip_norm > S
  double noise_stddev;   ///< per-coordinate std added on the device (0 in central mode)
};

/// Device side, in place on the flat adapter update Δ: clip to S, then in distributed mode
/// add N(0, σ²S²/(m_min − a_max)) per coordinate (m_min = config.survivor_floor()). Throws NonFiniteValueError (Δ untouched) if Δ holds
/// NaN/Inf; InvalidPrivacyParameter for a bad config.
DeviceUpdateReport privatize_device_update(std::span<float> delta, const UserDpConfig& config,
                                           NoiseSource& noise);

/// Coordinator side, in place on the unmasked sum of `contributors` device updates: in
/// central mode adds N(0, σ²S²); in distributed mode checks contributors ≥ m_min (throws
/// PrivacyError otherwise: the honest survivors' noise could be below σ²S²; abort the
/// round). Then divides by K.
/// Throws NonFiniteValueError if the sum holds NaN/Inf.
void finalize_user_dp_average(std::span<float> sum, std::int64_t contributors,
                              const UserDpConfig& config, NoiseSource& noise);

}  // namespace fedlora::privacy
