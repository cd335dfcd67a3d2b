#include "secure-agg/client_policy.h"

#include <algorithm>
#include <string>

#include "secure-agg/errors.h"

namespace fedlora::secagg {

ClientPolicy ClientPolicy::for_threat(const ThreatModel& threat) {
  ClientPolicy p;
  p.threat = threat;
  p.require_consistency_check = threat.adversary == AdversaryModel::kSemiMalicious;
  return p;
}

ClientPolicy ClientPolicy::unchecked() {
  ClientPolicy p;
  p.enforce_threat_model = false;
  p.min_graph_seed_work = 0;
  return p;
}

void ClientPolicy::check(const RoundConfig& config) const {
  config.validate();
  const std::uint32_t n = config.num_clients, k = config.params.degree, t = config.params.threshold;
  if (n < min_clients || n > max_clients) {
    throw PolicyError("cohort size n = " + std::to_string(n) + " outside the expected range [" +
                      std::to_string(min_clients) + ", " + std::to_string(max_clients) + "]");
  }
  if (t < min_threshold) {
    throw PolicyError("threshold t = " + std::to_string(t) + " below this device's floor " + std::to_string(min_threshold));
  }
  if (k < min_degree) {
    throw PolicyError("degree k = " + std::to_string(k) + " below this device's floor " + std::to_string(min_degree));
  }
  const bool wants_check = require_consistency_check || threat.adversary == AdversaryModel::kSemiMalicious;
  if (wants_check && !config.consistency_check) {
    throw PolicyError("the round has no consistency check, which this device requires (semi-malicious model)");
  }
  if (config.params.graph == GraphKind::kHarary && config.graph_seed_work < min_graph_seed_work) {
    throw PolicyError("graph_seed_work = " + std::to_string(config.graph_seed_work) +
                      " below this device's floor " + std::to_string(min_graph_seed_work) +
                      ": a server could try too many neighbour graphs per round");
  }
  if (!enforce_threat_model) return;
  ThreatModel th = threat;
  if (config.consistency_check) th.adversary = AdversaryModel::kSemiMalicious;
  try {
    check_security_against(n, config.params, th);
  } catch (const ConfigError& e) {
    // Strip the "secagg config: " prefix; this is a refusal, not a local misconfiguration.
    std::string why = e.what();
    if (const auto pos = why.find(": "); pos != std::string::npos) why = why.substr(pos + 2);
    throw PolicyError(why + (config.consistency_check ? " [consistency-check rounds are checked as semi-malicious]" : ""));
  }
}

std::uint32_t ClientPolicy::min_live_neighbours(const RoundConfig& config) const {
  const std::uint32_t t = config.params.threshold;
  const std::uint32_t floor_t = t >= 1 ? t - 1 : 0;
  if (!enforce_threat_model) return floor_t;
  return std::max(floor_t, secagg::min_live_neighbours(config.params.degree, threat.dropout_fraction));
}

}  // namespace fedlora::secagg
