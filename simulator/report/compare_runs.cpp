#include "simulator/report/compare_runs.h"

#include <cmath>
#include <cstdio>
#include <stdexcept>

namespace fedlora::sim {

RunComparison compare_row(const RunCurve& c, std::optional<double> target) {
  if (c.round.empty()) throw std::invalid_argument("compare: " + c.label + " has no evaluated round");
  if (target && !(*target > 0 && *target <= 1))
    throw std::invalid_argument("compare: the target accuracy must be in (0, 1]");
  RunComparison r;
  r.label = c.label;
  const size_t last = c.round.size() - 1;
  r.last_round = c.round[last];
  r.accuracy = c.accuracy[last];
  r.perplexity = c.perplexity[last];
  r.next_word_top1 = c.next_word_top1[last];
  r.next_word_top3 = c.next_word_top3[last];
  r.bytes_up = c.bytes_up[last];
  r.wall_s = c.wall_s[last];
  if (!c.sim_time_s.empty()) r.sim_time_s = c.sim_time_s[last];
  if (target)
    for (size_t i = 0; i < c.round.size(); ++i)
      if (c.accuracy[i] >= *target) {
        r.rounds_to_target = c.round[i];
        r.bytes_to_target = c.bytes_up[i];
        if (i < c.sim_time_s.size() && !std::isnan(c.sim_time_s[i])) r.sim_s_to_target = c.sim_time_s[i];
        break;
      }
  return r;
}

std::string comparison_markdown(const std::vector<RunComparison>& rows, std::optional<double> target) {
  char buf[512];
  bool clock = false;
  for (const auto& r : rows) clock = clock || !std::isnan(r.sim_time_s);
  std::string out = "| run | rounds | accuracy | perplexity | next-word top-1 | top-3 | MB up |";
  if (target) {
    std::snprintf(buf, sizeof buf, " rounds to %.3f | MB up to %.3f |", *target, *target);
    out += buf;
  }
  if (clock) {
    out += " simulated min |";
    if (target) {
      std::snprintf(buf, sizeof buf, " simulated min to %.3f |", *target);
      out += buf;
    }
  }
  out += " host min |\n|---|---|---|---|---|---|---|";
  if (target) out += "---|---|";
  if (clock) out += target ? "---|---|" : "---|";
  out += "---|\n";
  auto opt = [](double v, const char* f) {
    if (std::isnan(v)) return std::string("–");
    char b[64];
    std::snprintf(b, sizeof b, f, v);
    return std::string(b);
  };
  for (const auto& r : rows) {
    std::snprintf(buf, sizeof buf, "| %s | %.0f | %.4f | %.2f | %s | %s | %.1f |", r.label.c_str(), r.last_round,
                  r.accuracy, r.perplexity, opt(r.next_word_top1, "%.3f").c_str(), opt(r.next_word_top3, "%.3f").c_str(),
                  r.bytes_up / 1e6);
    out += buf;
    if (target) {
      out += r.rounds_to_target ? " " + opt(*r.rounds_to_target, "%.0f") + " |" : " not reached |";
      out += r.bytes_to_target ? " " + opt(*r.bytes_to_target / 1e6, "%.1f") + " |" : " – |";
    }
    if (clock) {
      out += " " + opt(r.sim_time_s / 60.0, "%.1f") + " |";
      if (target) out += r.sim_s_to_target ? " " + opt(*r.sim_s_to_target / 60.0, "%.1f") + " |" : " – |";
    }
    out += " " + opt(r.wall_s / 60.0, "%.1f") + " |\n";
  }
  return out;
}

}  // namespace fedlora::sim
