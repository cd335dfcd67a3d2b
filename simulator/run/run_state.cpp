#include "simulator/run/run_state.h"

#include <cmath>
#include <limits>
#include <stdexcept>

namespace fedlora::sim {
using nlohmann::json;

namespace {
// JSON has no infinity: +inf is stored as null.
json num(double v) { return std::isinf(v) && v > 0 ? json(nullptr) : json(v); }
double num_from(const json& v) { return v.is_null() ? std::numeric_limits<double>::infinity() : v.get<double>(); }
json nums(const std::vector<double>& v) {
  json a = json::array();
  for (double x : v) a.push_back(num(x));
  return a;
}
std::vector<double> nums_from(const json& a) {
  std::vector<double> v;
  for (const auto& x : a) v.push_back(num_from(x));
  return v;
}
json eval_point_json(const EvalPoint& e) {
  return json{{"round", e.round}, {"accuracy", e.accuracy}, {"loss", e.loss}, {"perplexity", num(e.perplexity)},
              {"tokens", e.tokens}, {"next_word_positions", e.next_word_positions},
              {"next_word_top1", e.next_word_top1}, {"next_word_top3", e.next_word_top3}};
}
EvalPoint eval_point_from(const json& j) {
  return EvalPoint{j.at("round").get<std::int64_t>(), j.at("accuracy").get<double>(), j.at("loss").get<double>(),
                   num_from(j.at("perplexity")), j.at("tokens").get<std::int64_t>(),
                   j.at("next_word_positions").get<std::int64_t>(), j.at("next_word_top1").get<double>(),
                   j.at("next_word_top3").get<double>()};
}
}  // namespace

json user_dp_state_json(const coordinator::UserDpServer::State& s) {
  json users = json::array();
  for (const auto& u : s.participation.users) users.push_back({u.user_id, num(u.sum_inverse_sigma2), u.participations});
  const auto& p = s.participation;
  return json{{"rounds", s.rounds},
              {"rdp", nums(s.rdp)},
              {"clip_norm", s.clip_norm},
              {"participation",
               {{"delta", p.delta},
                {"max_participations", p.max_participations},
                {"orders", nums(p.orders)},
                {"round_inverse_sigma2", nums(p.round_inverse_sigma2)},
                {"users", users}}}};
}

coordinator::UserDpServer::State user_dp_state_from_json(const json& j) {
  coordinator::UserDpServer::State s;
  s.rounds = j.at("rounds").get<std::int64_t>();
  s.rdp = nums_from(j.at("rdp"));
  s.clip_norm = j.at("clip_norm").get<double>();
  const auto& p = j.at("participation");
  s.participation.delta = p.at("delta").get<double>();
  s.participation.max_participations = p.at("max_participations").get<std::int64_t>();
  s.participation.orders = nums_from(p.at("orders"));
  s.participation.round_inverse_sigma2 = nums_from(p.at("round_inverse_sigma2"));
  for (const auto& u : p.at("users"))
    s.participation.users.push_back({u.at(0).get<std::uint64_t>(), num_from(u.at(1)), u.at(2).get<std::int64_t>()});
  return s;
}

json run_state_json(const RunState& s) {
  return json{{"round", s.round},
              {"metrics_line", s.metrics_line},
              {"before", eval_point_json(s.before)},
              {"last_eval", eval_point_json(s.last_eval)},
              {"rounds_completed", s.rounds_completed},
              {"rounds_aborted", s.rounds_aborted},
              {"bytes_up", s.bytes_up},
              {"bytes_down", s.bytes_down},
              {"example_eps_max", num(s.example_eps_max)},
              {"out_of_budget", s.out_of_budget},
              {"user_dp", s.user_dp ? user_dp_state_json(*s.user_dp) : json(nullptr)},
              {"wall_s", s.wall_s},
              {"sim_time_s", s.sim_time_s},
              {"sim_round_s", s.sim_round_s},
              {"stragglers", s.stragglers},
              {"left", s.left},
              {"compute_s", s.compute_s},
              {"wasted_compute_s", s.wasted_compute_s}};
}

RunState run_state_from_json(const json& j) {
  try {
    RunState s;
    s.round = j.at("round").get<std::int64_t>();
    s.metrics_line = j.at("metrics_line").get<std::string>();
    s.before = eval_point_from(j.at("before"));
    s.last_eval = eval_point_from(j.at("last_eval"));
    s.rounds_completed = j.at("rounds_completed").get<int>();
    s.rounds_aborted = j.at("rounds_aborted").get<int>();
    s.bytes_up = j.at("bytes_up").get<std::int64_t>();
    s.bytes_down = j.at("bytes_down").get<std::int64_t>();
    s.example_eps_max = num_from(j.at("example_eps_max"));
    s.out_of_budget = j.at("out_of_budget").get<std::vector<std::uint64_t>>();
    if (!j.at("user_dp").is_null()) s.user_dp = user_dp_state_from_json(j.at("user_dp"));
    s.wall_s = j.at("wall_s").get<double>();
    s.sim_time_s = j.at("sim_time_s").get<double>();
    s.sim_round_s = j.at("sim_round_s").get<std::vector<double>>();
    s.stragglers = j.at("stragglers").get<std::int64_t>();
    s.left = j.at("left").get<std::int64_t>();
    s.compute_s = j.at("compute_s").get<double>();
    s.wasted_compute_s = j.at("wasted_compute_s").get<double>();
    if (s.round < 0) throw std::runtime_error("round is negative");
    return s;
  } catch (const json::exception& e) {
    throw std::runtime_error(std::string("run state: ") + e.what());
  }
}

}  // namespace fedlora::sim
