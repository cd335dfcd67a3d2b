#pragma once
// The coordinator's fields of a round's metrics.jsonl line, the same for the simulator and
// the coordinator service: round, cohort, contributors, aborted (+ abort_reason),
// update_norm, bytes_up, bytes_down, user-level DP (ε when reported, δ, clip), SecAgg
// parameters and server CPU time. Device-side fields (train loss, dropouts) are added by
// whoever knows them (the simulator).
#include <nlohmann/json.hpp>

#include "coordinator/round/round_driver.h"

namespace fedlora::coordinator {

/// `user_dp`: the run's user-level DP settings (nullptr without); `report_epsilon`: false for
/// runs whose noise is reproducible (not private): no ε is attached then. User-level DP
/// appears as "user_dp": {"clip_norm", "delta", "epsilon": ε per adversary (epsilon_json.h)}.
nlohmann::json round_report_json(const RoundReport& report, const UserDpSettings* user_dp, bool report_epsilon);

}  // namespace fedlora::coordinator
