#pragma once
// The round instructions: everything a device does in a round, as the coordinator decides
// it. One type for both sides: the coordinator's round driver builds it, the transport
// carries it (fedlora.v1.RoundInstructions on the wire, instructions_wire.h), and the
// device step obeys it instead of its own configuration. Torch-free.
#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "coordinator/protocol/weighting.h"
#include "lora/adapter/adapter_layout.h"
#include "privacy/user_dp/user_level_dp.h"
#include "secure-agg/fixed_point.h"
#include "secure-agg/round_config.h"

namespace fedlora::protocol {

using Sha256Digest = std::array<std::uint8_t, 32>;

/// The adapter the round trains: LoRA (Hu et al. 2021) rank r and alpha on the target
/// projections of every block; `dimension` d is the flat length the device must reproduce
/// from its own base (lora::make_adapter_layout), or it refuses the task. With `freeze_a`
/// (FFA-LoRA, Sun et al. ICLR 2024) lora_A stays as initialised and an update carries only
/// the d_B lora_B entries (lora/adapter/lora_b_part.h), which the device must reproduce too.
struct AdapterSpec {
  int rank = 8;                                   ///< r, 1 .. 1024
  float alpha = 16.0f;                            ///< finite, > 0
  std::vector<lora::TargetModule> target_modules; ///< 1..7 distinct projections
  std::int64_t dimension = 0;                     ///< d ≥ 1 floats
  bool freeze_a = false;                          ///< train and send lora_B only
  std::int64_t b_dimension = 0;                   ///< d_B in [1, d) with freeze_a, else 0

  /// Floats in an update Δ: d_B with freeze_a, else d.
  std::int64_t update_dimension() const { return freeze_a ? b_dimension : dimension; }
};

enum class LocalOptimizerKind { kSgd, kAdam };

/// Local training (McMahan et al. 2017, Algorithm 1 "ClientUpdate"; FedProx μ of Li et al.
/// 2020, Eq. 2).
struct TrainInstructions {
  int epochs = 1;               ///< E, 1 .. 1000
  int batch_size = 8;           ///< B, 1 .. 65536
  double lr = 1e-3;             ///< finite, > 0
  LocalOptimizerKind optimizer = LocalOptimizerKind::kAdam;
  int max_steps = 0;            ///< cap on local steps, 0 = none
  double fedprox_mu = 0.0;      ///< μ ≥ 0
  std::uint64_t shuffle_seed = 0; ///< batch order (not privacy randomness)
};

/// How the device weights its update, and the largest weight the coordinator accepts.
struct WeightingInstructions {
  Weighting kind = Weighting::kExampleCount;
  double weight_cap_examples = 0.0;  ///< ŵ for kCappedExampleCount, else 0
  double max_weight = 1.0;           ///< uploads with weight outside [0, max_weight] are rejected
  /// client_weight(kind, weight_cap_examples, num_examples). Throws ProtocolError.
  double weight(std::int64_t num_examples) const { return client_weight(kind, weight_cap_examples, num_examples); }
};

/// Example-level DP-SGD (Abadi et al. 2016) settings; the device's own ledger and budget
/// decide whether it may run them (the budget never comes from the coordinator).
struct DpSgdInstructions {
  double noise_multiplier = 1.0;  ///< σ ≥ 0
  double l2_norm_clip = 1.0;      ///< C > 0
  double sampling_rate = 0.0;     ///< q in [0, 1]; 0 = batch_size / N
  int steps = 0;                  ///< T ≥ 0; 0 = ⌈epochs / q⌉
  std::string per_example_loss = "token_mean";  ///< token_mean | token_sum
};

/// User-level DP (McMahan et al. 2018) on the device: clip Δ to S, and in distributed mode
/// add N(0, σ²S²/m) with m = update.min_contributors; adaptive clipping (Andrew et al. 2021)
/// appends the centred clip indicator b − ½ plus N(0, clip_indicator_noise_stddev²).
struct UserDpInstructions {
  privacy::UserDpConfig update;
  bool report_clip_indicator = false;
  double clip_indicator_noise_stddev = 0.0;
};

/// The device's part of the round's SecAgg session (secure-agg/): the shared round config,
/// its logical id in 0..n-1 and the fixed-point encoding of its upload. The config (with its
/// n-entry roster) is shared by every member's instructions, so a coordinator holds it once
/// per round, not n times (O(n), not O(n²), at n = 1000: 100 KB instead of 100 MB).
struct SecAggInstructions {
  std::shared_ptr<const secagg::RoundConfig> config;  ///< never null in valid instructions
  secagg::ClientId logical_id = 0;
  secagg::FixedPointParams fixed_point;
};

/// Deadlines in milliseconds: from the task hand-out to the upload (or AdvertiseKeys), and
/// for each later SecAgg stage.
struct Deadlines {
  std::uint64_t train_ms = 600'000;
  std::uint64_t secagg_stage_ms = 60'000;
};

struct RoundInstructions {
  std::uint64_t round = 0;           ///< ≥ 1
  Sha256Digest base_model_sha256{};  ///< the device refuses a task for another base
  AdapterSpec adapter;
  TrainInstructions train;
  WeightingInstructions weighting;
  std::optional<DpSgdInstructions> dp_sgd;
  std::optional<UserDpInstructions> user_dp;
  std::optional<SecAggInstructions> secagg;
  Deadlines deadlines;

  /// Checks every field against its documented range and the cross-field rules: user-level
  /// DP needs bounded weights (uniform or capped); SecAgg's round matches, its logical id is
  /// below n, its vector length equals the fixed-point encoding of upload_length(), and the
  /// fixed point has a weight coordinate iff weights are not uniform. Throws ProtocolError
  /// naming the first violation.
  void validate() const;

  /// Floats a device uploads: adapter.update_dimension(), plus one clip indicator with
  /// adaptive clipping.
  std::int64_t upload_length() const;
};

}  // namespace fedlora::protocol
