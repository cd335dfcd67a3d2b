#include "coordinator/round/secagg_plan.h"

#include <algorithm>

#include "secure-agg/errors.h"

namespace fedlora::coordinator {

secagg::SecAggParameters plan_secagg_parameters(std::uint32_t n, const config::SecAggSection& s) {
  using namespace secagg;
  if (n < 2) throw config::ConfigError("secure aggregation needs at least 2 devices in a round, the cohort has " +
                                       std::to_string(n));
  ParameterRequest req;
  req.threat = ThreatModel{s.corrupt_fraction, s.dropout_fraction, AdversaryModel::kSemiHonest};
  req.graph = s.graph == "complete" ? GraphChoice::kComplete : s.graph == "harary" ? GraphChoice::kHarary : GraphChoice::kAuto;
  req.degree = static_cast<std::uint32_t>(s.degree);
  req.threshold = static_cast<std::uint32_t>(s.threshold);
  req.consistency_check = s.consistency_check;
  try {
    return plan_parameters(n, req);  // checks explicit (k, t); never lowers them to fit
  } catch (const secagg::ConfigError& e) {
    throw config::ConfigError("secagg parameters for a cohort of " + std::to_string(n) + ": " + e.what() +
                              " (adjust secagg.corrupt_fraction / dropout_fraction, or set degree/threshold)");
  }
}

double secagg_clip_range(const config::SecAggSection& s, const std::optional<protocol::UserDpInstructions>& dp) {
  double sd = 0.0, needed = 0.0;
  if (dp) {
    const auto& u = dp->update;
    if (u.mode == privacy::NoiseMode::kDistributed)
      sd = privacy::per_device_noise_stddev_honest(u.noise_multiplier, u.l2_norm_clip, u.survivor_floor(),
                                                   u.max_corrupt_clients);
    // Each coordinate of a clipped update is within ±S; after noise it leaves [−c, c] with
    // probability ≤ 2Φ(−4) ≈ 6.3e-5 when c ≥ S + 4σ (and ≤ 2e-9 at the automatic 6σ).
    needed = std::max(u.l2_norm_clip + 4.0 * sd, 0.5 + 4.0 * dp->clip_indicator_noise_stddev);
  }
  if (s.clip_range > 0) {
    if (s.clip_range < needed)
      throw config::ConfigError("secagg.clip_range " + config::format_number(s.clip_range) +
                                " would clamp noised updates: it must be at least S + 4σ = " +
                                config::format_number(needed) + " (set 0 for the automatic S + 6σ)");
    return s.clip_range;
  }
  if (!dp) return 8.0;
  return std::max(dp->update.l2_norm_clip + 6.0 * sd, 0.5 + 6.0 * dp->clip_indicator_noise_stddev);
}

}  // namespace fedlora::coordinator
