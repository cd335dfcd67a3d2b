#pragma once
// The SecAgg session of a round, planned by the coordinator: graph, degree k and threshold
// t for the cohort size n under the job's threat model (Bell et al. CCS'20 parameters,
// secure-agg/graph_parameters.h), and the fixed-point range of the uploads.
#include <cstdint>
#include <optional>

#include "coordinator/config/job_config.h"
#include "coordinator/protocol/round_instructions.h"
#include "secure-agg/graph_parameters.h"

namespace fedlora::coordinator {

/// k and t for a cohort of n under [secagg] (secagg::plan_parameters): explicit (graph,
/// degree, threshold) are checked, never lowered to fit; otherwise chosen from
/// corrupt_fraction / dropout_fraction, for the semi-malicious model with consistency_check.
/// Throws config::ConfigError naming the setting to change when they cannot be met.
secagg::SecAggParameters plan_secagg_parameters(std::uint32_t n, const config::SecAggSection& s);

/// The fixed-point clip range c: secagg.clip_range if set; else, with user-level DP, the
/// clip S plus 6 standard deviations σ of the device noise (a clipped update has every
/// coordinate within ±S), and room for the noised clip indicator; else 8. A hand-set range
/// below S + 4σ (clamping probability per coordinate above 2Φ(−4) ≈ 6.3e-5) throws
/// config::ConfigError naming the bound.
double secagg_clip_range(const config::SecAggSection& s, const std::optional<protocol::UserDpInstructions>& dp);

}  // namespace fedlora::coordinator
