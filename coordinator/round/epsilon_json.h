#pragma once
// ε per adversary as it appears in metrics.jsonl, summary.json and `status`: each figure named
// by the adversary it holds against and the assumption it rests on. ε = +∞ is written "inf".
#include <nlohmann/json.hpp>

#include "coordinator/round/user_dp_server.h"
#include "privacy/accounting/epsilon_by_adversary.h"

namespace fedlora::coordinator {

/// {"delta", "released_model": {"epsilon", "order", "assumes"}, "coordinator": {"epsilon",
///  "worst_case_epsilon", "max_participations_seen", "assumes"}}.
nlohmann::json epsilon_json(const privacy::EpsilonByAdversary& epsilon, const UserDpSettings& settings);

}  // namespace fedlora::coordinator
