#include "simulator/run/round_metrics.h"

#include <algorithm>

#include "coordinator/round/round_report_json.h"

namespace fedlora::sim {

RoundDeviceCounts count_devices(const InprocRound& round) {
  RoundDeviceCounts c;
  double loss_sum = 0;
  for (const auto& d : round.devices) {
    const auto& r = d.report;
    c.example_epsilon_max = std::max(c.example_epsilon_max, r.example_epsilon);
    c.clipped_values += r.clipped_values;
    if (d.refused_task) ++c.refused_task;
    if (r.status == client::DeviceStatus::kRejected) ++c.rejected;
    if (r.status == client::DeviceStatus::kRefusedBudget) ++c.refused_budget;
    if (d.dropped) ++c.dropped;
    c.peak_rss_bytes = std::max<std::int64_t>(c.peak_rss_bytes, r.peak_rss_bytes);
    if (r.tokens > 0 && r.micro_batched) ++c.micro_batched;
    if (r.tokens > 0 && r.memory.activation_checkpointing) ++c.checkpointed;
    if (d.dropped_before) ++c.dropped_before[secagg::stage_name(*d.dropped_before)];
    if (r.tokens > 0 && r.status != client::DeviceStatus::kRejected) {
      loss_sum += r.train_loss * static_cast<double>(r.tokens);
      c.train_tokens += r.tokens;
    }
  }
  c.train_loss = c.train_tokens ? loss_sum / static_cast<double>(c.train_tokens) : 0.0;
  return c;
}

nlohmann::json eval_json(const EvalPoint& e) {
  nlohmann::json j{{"accuracy", e.accuracy}, {"loss", e.loss}, {"perplexity", e.perplexity}, {"tokens", e.tokens}};
  if (e.next_word_positions > 0)
    j["next_word"] = {{"top1", e.next_word_top1}, {"top3", e.next_word_top3}, {"positions", e.next_word_positions}};
  return j;
}

nlohmann::json round_metrics(const InprocRound& round, const RoundDeviceCounts& c,
                             const coordinator::UserDpSettings* user_dp, bool report_epsilon) {
  nlohmann::json line = coordinator::round_report_json(round.report, user_dp, report_epsilon);
  line["dropped"] = c.dropped;
  line["rejected_updates"] = c.rejected;
  line["train_loss"] = c.train_loss;
  line["train_tokens"] = c.train_tokens;
  if (c.refused_task) line["refused_tasks"] = c.refused_task;
  if (c.peak_rss_bytes >= 0) line["peak_rss_mb"] = static_cast<double>(c.peak_rss_bytes) / 1e6;
  if (c.micro_batched) line["micro_batched_devices"] = c.micro_batched;
  if (c.checkpointed) line["checkpointed_devices"] = c.checkpointed;
  if (round.report.secagg) {
    line["secagg"]["clipped_values"] = c.clipped_values;
    if (!c.dropped_before.empty()) line["secagg"]["dropped_before"] = c.dropped_before;
  }
  return line;
}

}  // namespace fedlora::sim
