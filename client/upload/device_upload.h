#pragma once
// What a device sends after local training: its update turned into the vector that goes
// into (secure) aggregation. With user-level DP the update is clipped to S and, in
// distributed mode, noised on the device (McMahan et al. 2018; Kairouz et al. 2021
// "The Distributed Discrete Gaussian Mechanism" for the distributed setting); with adaptive
// clipping the device appends its centred clip indicator b_i − ½ (Andrew et al. 2021).
#include <cstdint>
#include <optional>
#include <vector>

#include "privacy/noise/noise_source.h"
#include "privacy/user_dp/user_level_dp.h"

namespace fedlora::client {

/// The round's instructions for building an upload.
struct UploadSpec {
  /// Weight of this device in the average: its example count (FedAvg) or 1 (uniform;
  /// forced with user-level DP so every user has the same sensitivity).
  bool weight_by_examples = true;
  std::optional<privacy::UserDpConfig> user_dp;  ///< set when user-level DP is on
  bool report_clip_indicator = false;            ///< adaptive clipping
  double clip_indicator_noise_stddev = 0.0;      ///< device-side noise on the indicator
};

struct Upload {
  /// weight · Δ' where Δ' is the (clipped, noised) update, float32 [d], followed by the
  /// noised clip indicator when requested (then [d + 1]).
  std::vector<float> values;
  double weight = 1.0;
  double pre_clip_norm = 0.0;  ///< ‖Δ‖₂ before clipping (stays on the device in a deployment)
  bool clipped = false;
};

/// Builds the upload from Δ (consumed). `noise` must be set when user_dp is on (production:
/// NoiseSource::from_os_entropy; simulation: from_seed(run seed, {device, round,
/// noise_stream::kUserUpdateNoise})). Throws privacy::NonFiniteValueError if Δ holds NaN/Inf,
/// std::invalid_argument if noise is missing or num_examples < 1.
Upload make_upload(std::vector<float> delta, int64_t num_examples, const UploadSpec& spec,
                   privacy::NoiseSource* noise);

}  // namespace fedlora::client
