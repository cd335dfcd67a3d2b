#include "coordinator/round/round_report_json.h"

#include "coordinator/round/epsilon_json.h"

namespace fedlora::coordinator {

nlohmann::json round_report_json(const RoundReport& rep, const UserDpSettings* user_dp, bool report_epsilon) {
  nlohmann::json line{{"round", rep.record.round}, {"cohort", rep.cohort}};
  line["contributors"] = rep.contributors;
  line["aborted"] = rep.record.aborted;
  if (rep.record.aborted) line["abort_reason"] = rep.record.abort_reason;
  line["update_norm"] = rep.record.outcome.pseudo_gradient_l2_norm;
  line["bytes_up"] = rep.traffic.bytes_up;
  line["bytes_down"] = rep.traffic.bytes_down;
  if (rep.traffic.rejected_messages) line["rejected_messages"] = rep.traffic.rejected_messages;
  if (user_dp && rep.clip_norm) {
    nlohmann::json u{{"clip_norm", *rep.clip_norm}, {"delta", user_dp->delta}};
    u["epsilon"] = report_epsilon && rep.epsilon ? epsilon_json(*rep.epsilon, *user_dp) : nlohmann::json(nullptr);
    line["user_dp"] = u;
  }
  if (rep.secagg)
    line["secagg"] = nlohmann::json{{"n", rep.secagg->n},
                                    {"degree", rep.secagg->degree},
                                    {"threshold", rep.secagg->threshold},
                                    {"graph", rep.secagg->harary ? "harary" : "complete"},
                                    {"server_cpu_s", rep.traffic.server_cpu_s}};
  return line;
}

}  // namespace fedlora::coordinator
