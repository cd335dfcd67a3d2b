#include "simulator/run/fedbuff_run.h"

#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <queue>
#include <unordered_set>

#include "client/train/local_trainer.h"
#include "coordinator/protocol/seeds.h"
#include "coordinator/strategy/fedbuff_buffer.h"
#include "coordinator/strategy/server_optimizer_config.h"
#include "simulator/fleet/availability.h"
#include "simulator/fleet/device_profiles.h"
#include "simulator/run/centralized_run.h"
#include "simulator/run/device_timing.h"
#include "simulator/run/metrics_log.h"
#include "simulator/run/personalization.h"
#include "simulator/run/round_metrics.h"
#include "simulator/run/run_checkpoint.h"
#include "simulator/run/sim_setup.h"

namespace fedlora::sim {
namespace {

using nlohmann::json;
using protocol::derive_seed;
constexpr std::uint64_t kPickTag = 0xFB5E1, kTrainTag = 0xFB7A1;
constexpr double kRetryS = 300.0;


enum class EventKind { arrival, left, retry };

struct Event {
  double t = 0;
  std::uint64_t seq = 0;  // start order: breaks ties deterministically
  EventKind kind = EventKind::retry;
  std::uint64_t device = 0;
  std::int64_t version = 0;
  std::shared_ptr<const Eigen::VectorXf> theta;  // θ the device started from
  double wasted_s = 0;                          // for `left`: compute done before leaving
  bool operator>(const Event& o) const { return t != o.t ? t > o.t : seq > o.seq; }
};

}  // namespace

SimulationSummary run_fedbuff(const SimConfig& cfg, const ProgressFn& progress, const RunOptions& options) {
  if (cfg.async.mode != "fedbuff") throw ConfigError("run_fedbuff: server.mode is not \"fedbuff\"");
  if (options.resume)
    throw ResumeError("--resume is not supported for server.mode = \"fedbuff\": the devices in flight and the "
                      "buffer are not checkpointed; start the run again without --resume");
  const auto t0 = std::chrono::steady_clock::now();
  auto say = [&](const std::string& s) {
    if (progress) progress(s);
  };
  SimulationSummary summary;
  summary.run_dir = cfg.run.output_dir / cfg.run.name;
  std::filesystem::create_directories(summary.run_dir);
  const SimSetup setup = set_up_simulation(cfg, progress);
  const auto& base = setup.base;
  const auto& layout = *setup.layout;
  const Fleet& fleet = *setup.fleet;
  const int threads = worker_threads(cfg);
  WorkerPool pool(threads);
  const Eigen::Index d = layout.size();

  // FedBuff refuses SecAgg (sim_config.cpp): no masked input. Uploads are the full Δ.
  const FleetClock fleet_clock(
      cfg, fleet.size(),
      TrainShape{base->config, cfg.lora.target_modules, cfg.lora.rank, base->config.context_length, cfg.client.batch_size},
      static_cast<double>(d) * sizeof(float), static_cast<double>(d) * sizeof(float) + sizeof(double), 0.0);
  const AvailabilityModel& availability = *fleet_clock.availability;
  const DeviceTimer& timer = fleet_clock.timer;
  coordinator::FedBuffBuffer server(Eigen::Map<const Eigen::VectorXf>(setup.theta0.data(), d), cfg.async.buffer_size,
                                    coordinator::make_server_optimizer(cfg.server.optimizer, d));
  auto current = std::make_shared<const Eigen::VectorXf>(server.theta());

  const auto& c = cfg.client;
  auto expected_tokens = [&](std::uint64_t id) {
    const DeviceMeta& m = fleet.meta(id);
    if (m.train_examples == 0) return std::int64_t{0};
    const double mean = static_cast<double>(m.train_targets) / static_cast<double>(m.train_examples);
    const auto ex = local_examples(static_cast<std::int64_t>(m.train_examples), c.epochs, c.batch_size, c.max_steps);
    return static_cast<std::int64_t>(std::llround(static_cast<double>(ex) * mean));
  };

  std::priority_queue<Event, std::vector<Event>, std::greater<>> events;
  std::unordered_set<std::uint64_t> in_flight;
  std::uint64_t starts = 0;
  std::int64_t bytes_up = 0, bytes_down = 0, lost = 0;  // since the last server step
  std::int64_t total_up = 0, total_down = 0;             // up to the last server step
  double compute_s = 0, wasted_s = 0;
  auto start_device = [&](double now) {
    std::vector<std::uint64_t> eligible;
    for (std::uint64_t id = 0; id < fleet.size(); ++id)
      if (!in_flight.contains(id) && fleet.meta(id).train_examples > 0 && availability.available_until(id, now))
        eligible.push_back(id);
    const std::uint64_t seq = starts++;
    if (eligible.empty()) {
      events.push(Event{now + kRetryS, seq, EventKind::retry});
      return;
    }
    const std::uint64_t id = eligible[derive_seed(cfg.run.seed, {kPickTag, seq}) % eligible.size()];
    in_flight.insert(id);
    bytes_down += static_cast<std::int64_t>(d) * static_cast<std::int64_t>(sizeof(float));
    client::DeviceRoundReport work;
    work.tokens = expected_tokens(id);
    const MemberTime m = timer.time(id, now, work, true);
    compute_s += m.compute_s;
    if (m.leaves_s <= m.report_s) {
      const double done = std::clamp(m.leaves_s - m.train_start_s, 0.0, m.compute_s);
      events.push(Event{now + m.leaves_s, seq, EventKind::left, id, server.version(), nullptr, done});
    } else {
      events.push(Event{now + m.report_s, seq, EventKind::arrival, id, server.version(), current});
    }
  };

  MetricsLog metrics(summary.run_dir / "metrics.jsonl", true);
  const auto eval = [&](std::int64_t step) {
    return evaluate_global(pool, base, layout, server.theta(), fleet, step, eval_options(cfg, setup));
  };
  summary.before = eval(0);
  EvalPoint last = summary.before;
  metrics.append(json{{"round", 0}, {"eval", eval_json(summary.before)}}.dump());
  char buf[512];
  std::snprintf(buf, sizeof buf,
                "FedBuff: %d devices training at once, a server step every %d arrivals, staleness weight 1/sqrt(1+s); "
                "round %d base model eval acc %.4f ppl %.2f",
                cfg.async.concurrency, cfg.async.buffer_size, 0, last.accuracy, last.perplexity);
  say(buf);

  for (int i = 0; i < cfg.async.concurrency; ++i) start_device(0.0);
  std::vector<Event> pending;
  std::int64_t lost_since = 0;
  double now = 0, wasted_since = 0;
  auto step_t0 = std::chrono::steady_clock::now();
  const double max_time = 365 * 86400.0;
  while (server.version() < cfg.federation.rounds) {
    if (events.empty() || now > max_time)
      throw ConfigError("FedBuff: no device became eligible within a simulated year; check [fleet] availability");
    Event e = events.top();
    events.pop();
    now = e.t;
    if (e.kind == EventKind::retry) {
      start_device(now);
      continue;
    }
    in_flight.erase(e.device);
    if (e.kind == EventKind::left) {
      ++lost;
      ++lost_since;
      wasted_s += e.wasted_s;
      wasted_since += e.wasted_s;
      start_device(now);
      continue;
    }
    bytes_up += static_cast<std::int64_t>(d) * static_cast<std::int64_t>(sizeof(float)) + 8;
    pending.push_back(std::move(e));
    start_device(now);  // the slot is free again: another device starts from the current θ
    if (static_cast<int>(pending.size()) < cfg.async.buffer_size) continue;

    // The buffer is full: train its devices (each from its own θ version), then aggregate
    // them in arrival order.
    std::vector<client::LocalUpdate> updates(pending.size());
    std::vector<std::size_t> order(pending.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
    pool.run(order, [&](std::size_t i, int) {
      const Event& p = pending[i];
      const auto train = client_train_config(cfg, derive_seed(cfg.run.seed, {kTrainTag, p.seq}));
      const auto examples = fleet.examples(p.device);  // tokenized now (lazy fleet), released after
      updates[i] = client::train_local(base, layout, std::span<const float>(p.theta->data(), static_cast<std::size_t>(d)),
                                       examples->train, train);
    });
    std::optional<coordinator::FedBuffStep> step;
    double loss = 0;
    std::int64_t tokens = 0;
    for (std::size_t i = 0; i < pending.size(); ++i) {
      step = server.receive(updates[i].delta, pending[i].version);
      loss += updates[i].train_loss * static_cast<double>(updates[i].tokens);
      tokens += updates[i].tokens;
    }
    pending.clear();
    if (!step) throw std::logic_error("FedBuff: a full buffer did not make a server step");
    current = std::make_shared<const Eigen::VectorXf>(server.theta());
    ++summary.rounds_completed;
    const std::int64_t v = step->version;
    json line{{"round", v},
              {"mode", "fedbuff"},
              {"contributors", cfg.async.buffer_size},
              {"aborted", false},
              {"update_norm", step->update_norm},
              {"staleness_mean", step->mean_staleness},
              {"staleness_max", step->max_staleness},
              {"train_loss", tokens > 0 ? loss / static_cast<double>(tokens) : 0.0},
              {"train_tokens", tokens},
              {"left", lost_since},
              {"wasted_compute_s", wasted_since},
              {"sim_time_s", now},
              {"bytes_up", bytes_up},
              {"bytes_down", bytes_down}};
    total_up += bytes_up;
    total_down += bytes_down;
    bytes_up = bytes_down = 0;
    lost_since = 0;
    wasted_since = 0;
    std::string eval_str;
    if (evaluation_due(cfg, v)) {
      last = eval(v);
      line["eval"] = eval_json(last);
      std::snprintf(buf, sizeof buf, "  eval acc %.4f  ppl %.2f", last.accuracy, last.perplexity);
      eval_str = buf;
    }
    const double wall = seconds_since(step_t0);
    step_t0 = std::chrono::steady_clock::now();
    line["wall_s"] = wall;
    metrics.append(line.dump());
    std::snprintf(buf, sizeof buf, "step %3lld/%d  staleness mean %.2f max %.0f  train loss %.4f%s  sim %.1f min  %5.1f s",
                  static_cast<long long>(v), cfg.federation.rounds, step->mean_staleness, step->max_staleness,
                  line["train_loss"].get<double>(), eval_str.c_str(), now / 60.0, wall);
    say(buf);
  }
  summary.after = last;
  summary.bytes_up = total_up + bytes_up;
  summary.bytes_down = total_down + bytes_down;
  summary.simulated_time = json{{"total_s", now},
                                {"left", lost},
                                {"device_compute_s", compute_s},
                                {"wasted_compute_s", wasted_s},
                                {"wasted_share", compute_s > 0 ? wasted_s / compute_s : 0.0}};
  const std::span<const float> final_theta(server.theta().data(), static_cast<std::size_t>(d));
  summary.personalization = run_personalization(cfg, setup, pool, final_theta, summary.run_dir, progress);
  write_run_outputs(cfg, setup, final_theta, cfg.federation.rounds, threads, -1.0, summary, seconds_since(t0));
  return summary;
}

}  // namespace fedlora::sim
