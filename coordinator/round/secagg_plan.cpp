#include "coordinator/round/secagg_plan.h"

#include <algorithm>

#include "secure-agg/errors.h"

namespace fedlora::coordinator {

secagg::SecAggParameters plan_secagg_parameters(std::uint32_t n, const config::SecAggSection& s) {
  using namespace secagg;
  if (n < 2) throw config::ConfigError("secure aggregation needs at least 2 devices in a round, the cohort has " +
                                       std::to_string(n));
  SecAggParameters p;
  try {
    if (s.degree > 0 || s.threshold > 0) {
      p.graph = s.graph == "harary" ? GraphKind::kHarary : GraphKind::kComplete;
      p.degree = p.graph == GraphKind::kComplete || s.degree == 0 ? n - 1 : static_cast<uint32_t>(s.degree);
      p.threshold = s.threshold > 0 ? static_cast<uint32_t>(s.threshold) : p.degree / 2 + 1;
      validate_parameters(n, p);
    } else {
      const GraphChoice choice = s.graph == "complete" ? GraphChoice::kComplete
                                 : s.graph == "harary"  ? GraphChoice::kHarary
                                                        : GraphChoice::kAuto;
      const auto adversary = s.consistency_check ? AdversaryModel::kSemiMalicious : AdversaryModel::kSemiHonest;
      p = choose_parameters(n, ThreatModel{s.corrupt_fraction, s.dropout_fraction, adversary}, choice);
    }
  } catch (const secagg::ConfigError& e) {
    throw config::ConfigError("secagg parameters for a cohort of " + std::to_string(n) + ": " + e.what() +
                              " (adjust secagg.corrupt_fraction / dropout_fraction, or set degree/threshold)");
  }
  return p;
}

double secagg_clip_range(const config::SecAggSection& s, const std::optional<protocol::UserDpInstructions>& dp) {
  if (s.clip_range > 0) return s.clip_range;
  if (!dp) return 8.0;
  const auto& u = dp->update;
  const double sd = u.mode == privacy::NoiseMode::kDistributed
                        ? privacy::per_device_noise_stddev(u.noise_multiplier, u.l2_norm_clip, u.min_contributors)
                        : 0.0;
  return std::max(u.l2_norm_clip + 6.0 * sd, 0.5 + 6.0 * dp->clip_indicator_noise_stddev);
}

}  // namespace fedlora::coordinator
