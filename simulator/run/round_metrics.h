#pragma once
// One metrics.jsonl line per round (the same fields whichever transport ran it), and the
// terminal progress line.
#include <nlohmann/json.hpp>

#include <chrono>
#include <map>
#include <string>

#include "simulator/run/evaluation.h"
#include "simulator/run/inproc_transport.h"

namespace fedlora::sim {

/// Per-device outcome counts of a round (simulation reports).
struct RoundDeviceCounts {
  int dropped = 0, rejected = 0, refused_budget = 0, refused_task = 0;
  std::map<std::string, int> dropped_before;  ///< SecAgg: dropouts by the first stage missed
  double train_loss = 0.0;   ///< token-weighted mean over devices that trained
  std::int64_t train_tokens = 0;
  std::int64_t clipped_values = 0;  ///< SecAgg: upload values outside the fixed-point range
  double example_epsilon_max = 0.0; ///< largest example-level ε spent by a device of the round
  /// Host measure, not deterministic: the largest peak RSS a device reported (the
  /// process's, shared by devices training at once); -1 if none reported.
  std::int64_t peak_rss_bytes = -1;
  int micro_batched = 0;            ///< devices whose memory budget made them split batches
  int checkpointed = 0;             ///< devices that trained with activation checkpointing
};
RoundDeviceCounts count_devices(const InprocRound& round);

nlohmann::json eval_json(const EvalPoint& e);

/// True when round (or server step) `round` is evaluated: every federation.eval_every
/// rounds and after the last.
inline bool evaluation_due(const SimConfig& cfg, std::int64_t round) {
  return round % cfg.federation.eval_every == 0 || round == cfg.federation.rounds;
}

/// Host seconds since `t0` (wall_s of metrics lines; not deterministic).
inline double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

/// The round's metrics line: the coordinator's fields (coordinator/round/round_report_json.h:
/// round, cohort, contributors, aborted, update_norm, bytes, user_dp with ε per adversary when
/// `report_epsilon`, SecAgg) plus the devices' (dropped, rejected_updates, train_loss,
/// train_tokens, SecAgg clipped_values, peak_rss_mb and, under a memory budget, the
/// devices that micro-batched or checkpointed).
nlohmann::json round_metrics(const InprocRound& round, const RoundDeviceCounts& counts,
                             const coordinator::UserDpSettings* user_dp, bool report_epsilon);

}  // namespace fedlora::sim
