#pragma once
// What a device sends after local training: its update Δ turned into the vector that goes
// into (secure) aggregation, as the round instructions say. With user-level DP the update is
// clipped to S and, in distributed mode, noised on the device (McMahan et al. 2018; Kairouz
// et al. 2021 "The Distributed Discrete Gaussian Mechanism" for the distributed setting);
// then it is multiplied by the device's weight w; with adaptive clipping the device appends
// its centred clip indicator b − ½ plus noise (Andrew et al. 2021, Alg. 1).
#include <cstdint>
#include <optional>
#include <vector>

#include "coordinator/protocol/payload.h"
#include "coordinator/protocol/round_instructions.h"
#include "privacy/noise/noise_source.h"

namespace fedlora::client {

/// What building the upload found (stays on the device).
struct UploadStats {
  double pre_clip_norm = 0.0;  ///< ‖Δ‖₂ before clipping
  bool clipped = false;        ///< user-level DP clipped Δ
};

/// Builds the upload from Δ (float32 [d], consumed): clip and noise per `user_dp`, multiply
/// every value by `weight` (float32 products), append the indicator when
/// user_dp->report_clip_indicator. `noise` must be set when user_dp is set (production:
/// NoiseSource::from_os_entropy). Result: values of length d (+1), and weight w.
/// Throws privacy::NonFiniteValueError if Δ holds NaN/Inf, std::invalid_argument if noise
/// is missing or the weight is negative or not finite.
protocol::PlainUpload make_upload(std::vector<float> delta, double weight,
                                  const std::optional<protocol::UserDpInstructions>& user_dp,
                                  privacy::NoiseSource* noise, UploadStats* stats = nullptr);

}  // namespace fedlora::client
