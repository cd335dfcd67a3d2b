#pragma once
// What a simulated run carries from one round to the next besides θ and the server
// optimizer (those are the coordinator's checkpoint): counters, evaluations, devices out of
// budget, the user-level DP accountant and clip, and the metrics line of the round. Saved in
// every round checkpoint (run_checkpoint.h) as JSON; doubles are written in shortest
// round-trip form, so a resumed run continues from bit-identical values.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "coordinator/round/user_dp_server.h"
#include "simulator/run/evaluation.h"

namespace fedlora::sim {

struct RunState {
  std::int64_t round = 0;            ///< last finished round; 0 = only the base was evaluated
  std::string metrics_line;          ///< metrics.jsonl line of `round`, exactly as appended
  EvalPoint before, last_eval;       ///< base evaluation; latest evaluation
  int rounds_completed = 0, rounds_aborted = 0;
  std::int64_t bytes_up = 0, bytes_down = 0;
  double example_eps_max = 0.0;      ///< DP-SGD: largest example-level ε of any device so far
  std::vector<std::uint64_t> out_of_budget;  ///< devices that refused for budget (sorted)
  std::optional<coordinator::UserDpServer::State> user_dp;  ///< user-level DP accounting, clip
  double wall_s = 0.0;               ///< wall time spent so far (all sessions)
  // The simulated clock (sim_clock.h): deterministic, unlike wall_s.
  double sim_time_s = 0.0;           ///< simulated seconds since the run started
  std::vector<double> sim_round_s;   ///< each round's simulated duration
  std::int64_t stragglers = 0, left = 0;
  double compute_s = 0.0;            ///< simulated device compute of every member that trained
  double wasted_compute_s = 0.0;     ///< of it, discarded (stragglers, members that left)
};

nlohmann::json run_state_json(const RunState& state);
/// Inverse of run_state_json. Throws std::runtime_error naming the missing/bad field.
RunState run_state_from_json(const nlohmann::json& j);

nlohmann::json user_dp_state_json(const coordinator::UserDpServer::State& s);
/// Infinite σ⁻² / RDP values are stored as null. Throws nlohmann::json::exception on a bad shape.
coordinator::UserDpServer::State user_dp_state_from_json(const nlohmann::json& j);

}  // namespace fedlora::sim
