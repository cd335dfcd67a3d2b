#pragma once
// `fedlora-sim compare RUN... [--target-accuracy A]`: the README tables of the reproduction
// configs (configs/repro/), one Markdown row per run, read from each run's metrics.jsonl.
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "simulator/report/plot_runs.h"

namespace fedlora::sim {

/// One run's row. "To target" is the first evaluated round whose held-out next-token
/// accuracy is ≥ the target (McMahan et al. 2017, Table 2 reads rounds to a target the same
/// way); only evaluated rounds count, so it is exact to within federation.eval_every.
struct RunComparison {
  std::string label;                      ///< the run folder's name
  double last_round = 0;                  ///< last evaluated round
  double accuracy = 0, perplexity = 0;    ///< at the last evaluated round
  double next_word_top1 = 0, next_word_top3 = 0;  ///< NaN where not evaluated
  double bytes_up = 0;                    ///< bytes sent up over the whole run
  double wall_s = 0;                      ///< host seconds over all rounds
  std::optional<double> rounds_to_target; ///< unset: target not reached (or no target)
  std::optional<double> bytes_to_target;  ///< bytes up until that round
  double sim_time_s = NAN;                ///< simulated clock at the last evaluated round (NaN: none)
  std::optional<double> sim_s_to_target;  ///< simulated clock at the round that reached the target
};

/// The row of a run's curve (read_run_curve). `target` is an accuracy in (0, 1].
/// @throws std::invalid_argument if the curve is empty or the target is out of range.
RunComparison compare_row(const RunCurve& curve, std::optional<double> target);

/// A Markdown table of the rows: run, rounds, accuracy, perplexity, next-word top-1/top-3,
/// MB up, rounds and MB up to the target (when given), simulated minutes (total and to the
/// target) when any run reports them, host minutes.
std::string comparison_markdown(const std::vector<RunComparison>& rows, std::optional<double> target);

}  // namespace fedlora::sim
