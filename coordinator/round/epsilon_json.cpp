#include "coordinator/round/epsilon_json.h"

#include <cmath>
#include <string>

namespace fedlora::coordinator {
namespace {
nlohmann::json number(double x) { return std::isinf(x) ? nlohmann::json("inf") : nlohmann::json(x); }
}  // namespace

nlohmann::json epsilon_json(const privacy::EpsilonByAdversary& e, const UserDpSettings& s) {
  const bool ftrl = s.mechanism == UserDpMechanism::kDpFtrl;
  const bool distributed = !ftrl && s.mode == privacy::NoiseMode::kDistributed;
  nlohmann::json released{{"epsilon", number(e.released_model.epsilon)},
                          {"order", number(e.released_model.optimal_order)},
                          {"assumes", std::string(ftrl ? "DP-FTRL tree aggregation; no sampling assumed"
                                                       : "cohort membership stays secret (amplification by Poisson sampling)")}};
  nlohmann::json coordinator{{"epsilon", number(e.coordinator.worst_user.rdp.epsilon)},
                             {"worst_case_epsilon", number(e.coordinator.worst_case.rdp.epsilon)},
                             {"max_participations_seen", e.coordinator.max_participations_seen},
                             {"assumes", std::string(distributed
                                                         ? "device noise of honest survivors, which the coordinator cannot remove"
                                                         : "nothing: the coordinator adds the noise itself (central), so it "
                                                           "sees the sum unprotected")}};
  return nlohmann::json{{"delta", e.delta}, {"released_model", released}, {"coordinator", coordinator}};
}

}  // namespace fedlora::coordinator
