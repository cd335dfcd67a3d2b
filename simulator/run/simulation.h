#pragma once
// One simulated federated run: a population of virtual devices (one per user), each training
// a LoRA adapter on its own text over the shared frozen base, driven round by round by the
// coordinator's RoundDriver through the in-process transport, with metrics and reports on disk.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>

#include <nlohmann/json.hpp>

#include "simulator/config/sim_config.h"
#include "simulator/run/evaluation.h"

namespace fedlora::sim {

struct SimulationSummary {
  std::filesystem::path run_dir;
  EvalPoint before, after;
  int rounds_completed = 0, rounds_aborted = 0;
  double wall_s = 0.0;
  long peak_rss_bytes = 0;
  int64_t bytes_up = 0, bytes_down = 0;
  bool private_run = false;  ///< DP on with OS-entropy noise: the ε below may be reported
  /// User-level DP after the last round: {"mechanism", "delta", "epsilon": ε per adversary
  /// (coordinator/round/epsilon_json.h), null if the run is not private}; null without it.
  nlohmann::json user_dp;
};

/// Progress lines for the terminal (one per round, plus set-up messages).
using ProgressFn = std::function<void(const std::string&)>;

/// Runs the whole simulation described by `config` and writes, under
/// run.output_dir/run.name/: metrics.jsonl (one JSON object per round), summary.json
/// (config, seed, before/after metrics, wall time, peak RSS), adapter/ (final global adapter,
/// PEFT safetensors + adapter_config.json) and checkpoint/ (rewritten every round).
/// Deterministic for non-private runs and reproducible-noise runs: the same config and seed
/// give the same metrics (timings aside). Private runs draw their noise from the OS.
/// Throws ConfigError, data/format errors naming the file, or std::runtime_error.
SimulationSummary run_simulation(const SimConfig& config, const ProgressFn& progress);

}  // namespace fedlora::sim
