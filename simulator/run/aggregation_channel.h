#pragma once
// How the uploads of a round's cohort become one sum at the coordinator, in-process:
// plainly (the coordinator adds the vectors) or through SecAgg/SecAgg+, where it learns
// only the sum of the survivors. Both hand the coordinator the same thing, so aggregation,
// DP and strategies do not know which one ran.
#include <Eigen/Core>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "client/upload/device_upload.h"
#include "simulator/config/sim_config.h"

namespace fedlora::sim {

/// Per cohort member: its upload, or nothing if it dropped before uploading. With SecAgg,
/// `drop_stage` says before which protocol stage (2 ShareKeys .. 5 Unmasking) it went silent.
struct CohortUploads {
  std::vector<std::optional<client::Upload>> uploads;
  std::vector<std::optional<int>> drop_stage;  ///< SecAgg only; empty otherwise
};

struct ChannelResult {
  bool aborted = false;
  std::string abort_reason;
  Eigen::VectorXd value_sum;  ///< Σ over contributors of their upload values (d or d + 1)
  double weight_sum = 0.0;    ///< Σ weights of the contributors
  int contributors = 0;
  int min_contributors = 1;   ///< t: the SecAgg threshold (1 for plain sums)
  int64_t bytes_up = 0, bytes_down = 0;
  double client_cpu_s = 0.0, server_cpu_s = 0.0;  ///< SecAgg protocol CPU time
  int64_t clipped_values = 0;  ///< values outside the fixed-point range (SecAgg), clipped
};

/// Σ of the uploads present, in cohort order. bytes = 4·length per upload (float32) + 8
/// for the weight.
ChannelResult plain_sum(const CohortUploads& cohort, size_t length);

/// The SecAgg parameters (graph, k, t) for a cohort of n under the [secagg] settings.
/// Throws ConfigError if they cannot be met (the message says which setting to change).
struct SecAggPlan {
  uint32_t n = 0;
  uint32_t degree = 0, threshold = 0;
  bool harary = false;
};
SecAggPlan plan_secagg(uint32_t n, const SecAggSection& s);

/// Runs the SecAgg protocol among the cohort (in-process transport, same state machines as
/// a deployment) over fixed-point encodings of the uploads: clip range c, b bits, weight as
/// an extra coordinate when `with_weights`. `clip_range` is the c to use (> 0).
ChannelResult secure_sum(const CohortUploads& cohort, size_t length, bool with_weights, double max_weight,
                         double clip_range, const SecAggSection& s, const SecAggPlan& plan, uint64_t round,
                         uint64_t seed);

}  // namespace fedlora::sim
