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
  /// federation.mode = "centralized": {"examples_per_round", "steps_per_round",
  /// "pooled_examples"} (centralized_run.h); null for a federated run.
  nlohmann::json centralized;
  /// federation.personalize_steps > 0: the summary of personalization.json without its
  /// per-user list (personalization.h); null when off.
  nlohmann::json personalization;
  /// The simulated clock (simulator/run/sim_clock.h): {"total_s", "round_s": {p50, p90,
  /// max}, "stragglers", "left", "device_compute_s", "wasted_compute_s", "wasted_share"};
  /// null for the centralized baseline.
  nlohmann::json simulated_time;
};

/// Progress lines for the terminal (one per round, plus set-up messages).
using ProgressFn = std::function<void(const std::string&)>;

class RankGroup;

struct RunOptions {
  /// Continue from the newest checkpoint in the run folder (run_checkpoint.h): θ, server
  /// optimizer, user-level DP accountant (participation included) and clip, the DP-SGD
  /// ledger of the run folder, counters and metrics.jsonl as of that round. Without a
  /// checkpoint the run starts from round 0. Refused (ResumeError) for DP-FTRL, for a changed
  /// config/base/corpus (naming the keys) and for a corrupt checkpoint.
  bool resume = false;
  /// Rank 0 of a multi-process run (simulator/multi/): the cohort is hosted by every rank
  /// of the group, which must be running run_rank_worker. Not for --resume, the
  /// centralized baseline or FedBuff (ConfigError).
  RankGroup* ranks = nullptr;
};

/// Runs the whole simulation described by `config` and writes, under
/// run.output_dir/run.name/: metrics.jsonl (one JSON object per round), summary.json
/// (config, seed, before/after metrics, wall time, peak RSS), adapter/ (final global adapter,
/// PEFT safetensors + adapter_config.json) and checkpoints/round-N/ after every round
/// (checkpoint -> the newest; run_checkpoint.h). Every line of metrics.jsonl is fsync'ed
/// after its round's checkpoint, so a run killed at any point resumes (options.resume) to the
/// metrics an uninterrupted run writes. Deterministic for non-private runs and
/// reproducible-noise runs: the same config and seed give the same metrics (timings aside),
/// resumed or not. Private runs draw their noise from the OS.
/// federation.mode = "centralized" runs the pooled-data baseline instead (centralized_run.h);
/// federation.personalize_steps > 0 adds personalization.json after the last round
/// (personalization.h), in either mode.
/// Throws ConfigError, data/format errors naming the file, ResumeError, or
/// std::runtime_error (e.g. a read-only or full output folder, naming the path).
SimulationSummary run_simulation(const SimConfig& config, const ProgressFn& progress, const RunOptions& options = {});

/// Throws ConfigError naming the setting if a run with more than one rank cannot carry it:
/// the centralized baseline, FedBuff, or `resume`.
void refuse_for_ranks(const SimConfig& config, bool resume);

}  // namespace fedlora::sim
