#pragma once
// `fedlora-sim plot RUN... --out FILE.png`: held-out accuracy and loss per round of one or
// more runs in one figure, drawn by gnuplot (Debian's gnuplot-nox, pngcairo terminal).
#include <filesystem>
#include <string>
#include <vector>

namespace fedlora::sim {

/// The evaluated rounds of one run: metrics.jsonl rows that carry "eval". Per evaluated
/// row: next-token accuracy, loss (nats/token), perplexity, next-word top-1/top-3 recall (NaN
/// where not evaluated), and the bytes sent up and host seconds summed over every row up to
/// and including it.
struct RunCurve {
  std::string label;             ///< the run folder's name
  std::vector<double> round, accuracy, loss;
  std::vector<double> perplexity, next_word_top1, next_word_top3;
  std::vector<double> bytes_up, wall_s;
  std::vector<double> sim_time_s;  ///< the row's simulated clock ("sim_time_s"; NaN where absent)
};

/// Reads RUN/metrics.jsonl. Throws std::runtime_error naming the file (and line) when it is
/// missing, a line is not JSON, or no row has an evaluation.
RunCurve read_run_curve(const std::filesystem::path& run_dir);

struct PlotOutcome {
  bool drawn = false;
  std::string message;  ///< what was drawn, or why nothing was
};

enum class PlotAxis { round, sim_minutes };

/// Draws accuracy (left) and loss (right) against the round (or the simulated clock in
/// minutes, which every run must then report), one line per run, into `out`.
/// Without a `gnuplot` on PATH it draws nothing and says so (drawn = false); it never writes
/// a partial image. Throws read_run_curve's errors, and std::runtime_error when gnuplot fails.
PlotOutcome plot_runs(const std::vector<std::filesystem::path>& runs, const std::filesystem::path& out,
                      PlotAxis x = PlotAxis::round);

}  // namespace fedlora::sim
