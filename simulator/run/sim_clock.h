#pragma once
// The simulated clock of a synchronous round (issue: simulated time beside host time).
// A member's report arrives after it downloads θ, trains, and uploads, at its own class's
// rates; the round closes at its target number of reports or at its deadline, as the
// coordinator service closes it (Bonawitz et al. 2019 §2.2, over-selection and a reporting
// deadline). Members still training then are stragglers: their work is discarded. A member
// whose eligible session ends before it reports has left (a dropout).
#include <cstdint>
#include <limits>
#include <span>
#include <vector>

namespace fedlora::sim {

inline constexpr double kNever = std::numeric_limits<double>::infinity();

/// Seconds to move `bytes` over a link of `mbps` Mbit/s with one-way `latency_ms`:
/// latency + 8·bytes / (mbps·10⁶).
double transfer_seconds(double bytes, double mbps, double latency_ms);
/// Seconds to execute `flop` at `gflops` GFLOP/s.
double compute_seconds(double flop, double gflops);

/// One member's timeline, in seconds after the round opened.
struct MemberTime {
  double report_s = kNever;  ///< its report (plain upload, or SecAgg's first message) arrives; kNever: none
  double leaves_s = kNever;  ///< its eligible session ends
  double train_start_s = 0;  ///< θ downloaded, training starts
  double compute_s = 0;      ///< local training time (the work a straggler wastes)
  double latency_s = 0;      ///< one-way message latency (SecAgg stage round trips)
  double input_upload_s = 0; ///< SecAgg: time to upload the masked input vector
};

enum class MemberFate : std::uint8_t {
  reported,    ///< counted in the round
  straggler,   ///< trained, but reported after the round closed
  left,        ///< its session ended before it could report
  silent,      ///< no report at all (refused, failed, simulated dropout)
};

struct RoundCut {
  std::vector<MemberFate> fate;  ///< per member
  double close_s = 0;            ///< when the reporting phase closed
  int reported = 0, stragglers = 0, left = 0;
  double wasted_compute_s = 0;   ///< compute of stragglers, and of members that left up to leaving
};

/// Accepts reports in arrival order (ties: lower member index first) until `target` have
/// arrived or the deadline passes (deadline_s <= 0: none). The phase closes at the
/// target-th report; else at the deadline; else (no deadline, fewer than target ever
/// report) at the last report. A member whose leaves_s <= report_s has left. Throws
/// std::invalid_argument if target < 1.
RoundCut cut_round(std::span<const MemberTime> members, int target, double deadline_s);

}  // namespace fedlora::sim
