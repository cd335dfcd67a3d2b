#include "simulator/run/sim_clock.h"

#include <algorithm>
#include <numeric>
#include <stdexcept>

namespace fedlora::sim {

double transfer_seconds(double bytes, double mbps, double latency_ms) {
  return latency_ms / 1000.0 + 8.0 * bytes / (mbps * 1e6);
}

double compute_seconds(double flop, double gflops) { return flop / (gflops * 1e9); }

RoundCut cut_round(std::span<const MemberTime> members, int target, double deadline_s) {
  if (target < 1) throw std::invalid_argument("cut_round: target must be >= 1");
  RoundCut cut;
  cut.fate.assign(members.size(), MemberFate::silent);
  std::vector<std::size_t> arriving;
  for (std::size_t i = 0; i < members.size(); ++i) {
    const auto& m = members[i];
    if (m.report_s == kNever) continue;
    if (m.leaves_s <= m.report_s) {
      cut.fate[i] = MemberFate::left;
      ++cut.left;
      cut.wasted_compute_s += std::clamp(m.leaves_s - m.train_start_s, 0.0, m.compute_s);
      continue;
    }
    arriving.push_back(i);
  }
  std::stable_sort(arriving.begin(), arriving.end(),
                   [&](std::size_t a, std::size_t b) { return members[a].report_s < members[b].report_s; });
  const bool has_deadline = deadline_s > 0;
  double last = 0;
  for (std::size_t i : arriving) {
    const double t = members[i].report_s;
    if (cut.reported < target && (!has_deadline || t <= deadline_s)) {
      cut.fate[i] = MemberFate::reported;
      ++cut.reported;
      last = t;
    } else {
      cut.fate[i] = MemberFate::straggler;
      ++cut.stragglers;
      cut.wasted_compute_s += members[i].compute_s;
    }
  }
  cut.close_s = cut.reported >= target ? last : has_deadline ? deadline_s : last;
  return cut;
}

}  // namespace fedlora::sim
