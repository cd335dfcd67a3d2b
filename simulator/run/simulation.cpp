#include "simulator/run/simulation.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>
#include <unordered_set>

#include "coordinator/protocol/payload.h"
#include "coordinator/protocol/seeds.h"
#include "coordinator/round/epsilon_json.h"
#include "coordinator/round/job_setup.h"
#include "coordinator/round/round_driver.h"
#include "lora/adapter/adapter_init.h"
#include "lora/adapter/adapter_io.h"
#include "lora/format/gguf_reader.h"
#include "lora/model/llama_config.h"
#include "lora/model/runtime.h"
#include "lora/tokenizer/gguf_vocab.h"
#include "simulator/run/inproc_transport.h"
#include "simulator/run/round_metrics.h"
#include "simulator/run/sim_setup.h"

namespace fedlora::sim {
namespace fs = std::filesystem;
using nlohmann::json;
using protocol::derive_seed;

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

std::string fmt(const char* f, ...) __attribute__((format(printf, 1, 2)));
std::string fmt(const char* f, ...) {
  char buf[512];
  va_list ap;
  va_start(ap, f);
  std::vsnprintf(buf, sizeof buf, f, ap);
  va_end(ap);
  return buf;
}

// Example-level DP-SGD: one ledger for the fleet, keyed by device id (SQLite, internally
// locked, so the worker threads share it). "" = a fresh ledger in the run folder: a
// simulation's virtual devices start unspent.
std::optional<privacy::PrivacyLedger> open_ledger(const SimConfig& cfg, const fs::path& run_dir) {
  if (!cfg.dp_sgd.enabled) return std::nullopt;
  fs::path p = cfg.dp_sgd.ledger;
  if (p.empty()) {
    p = run_dir / "privacy_ledger.sqlite";
    for (const char* suffix : {"", "-wal", "-shm"}) fs::remove(p.string() + suffix);
  }
  return privacy::PrivacyLedger::open(p);
}

}  // namespace

SimulationSummary run_simulation(const SimConfig& cfg, const ProgressFn& progress) {
  const auto t0 = std::chrono::steady_clock::now();
  lora::keep_freed_memory_in_heap();
  auto say = [&](const std::string& s) {
    if (progress) progress(s);
  };
  SimulationSummary summary;
  summary.run_dir = cfg.run.output_dir / cfg.run.name;
  summary.private_run = cfg.private_run();
  fs::create_directories(summary.run_dir);
  if (cfg.dp_enabled() && !cfg.private_run())
    say("NOT PRIVATE: run.reproducible_noise = true draws DP noise from the run seed; no epsilon is reported");

  const SimSetup setup = set_up_simulation(cfg, progress);
  const auto& base = setup.base;
  const Fleet& fleet = *setup.fleet;
  const auto device_ids = fleet.ids();
  const auto population = static_cast<int64_t>(fleet.devices.size());
  const int threads = worker_threads(cfg);
  WorkerPool pool(threads);

  // The coordinator's side: θ_0, the strategy, user-level DP, the round driver.
  const auto& layout = *setup.layout;
  const auto& theta0 = setup.theta0;
  const Eigen::Index d = layout.size();
  coordinator::Coordinator coord(
      layout, Eigen::Map<const Eigen::VectorXf>(theta0.data(), d),
      std::make_unique<coordinator::FedOptStrategy>(
          coordinator::strategy_config_for(cfg, derive_seed(cfg.run.seed, {0xC0407}), 1.0, 0,
                                           std::make_shared<privacy::NoiseSource>(
                                               cfg.private_run() ? privacy::NoiseSource::from_os_entropy()
                                                                 : privacy::NoiseSource::from_seed(
                                                                       cfg.run.seed, {0xC0407, privacy::noise_stream::kCohortSampling}))),
          d),
      coordinator::CoordinatorOptions{summary.run_dir / "checkpoint", cfg.model.base.filename().string()});
  const bool dp = cfg.user_dp.enabled;
  double user_delta = 0.0;
  std::optional<coordinator::UserDpServer> dp_server;
  if (dp) {
    const auto us = coordinator::user_dp_settings_for(cfg, population);
    user_delta = us.delta;
    dp_server.emplace(us,
                      cfg.private_run()
                          ? privacy::NoiseSource::from_os_entropy()
                          : privacy::NoiseSource::from_seed(cfg.run.seed, {0xC0DE, privacy::noise_stream::kCentralNoise}),
                      d);
  }
  coordinator::RoundPolicy policy;
  static_cast<config::JobConfig&>(policy.job) = cfg;
  policy.base_model_sha256 = protocol::sha256_of_file(cfg.model.base);
  policy.run_seed = cfg.run.seed;
  coordinator::RoundDriver driver(coord, std::move(dp_server), policy, std::make_unique<secagg::crypto::SystemRandom>());

  auto ledger = open_ledger(cfg, summary.run_dir);
  VirtualFleet vf{fleet, base, policy.base_model_sha256, ledger ? &*ledger : nullptr, std::nullopt,
                  cfg.private_run() ? std::nullopt : std::optional<uint64_t>(cfg.run.seed)};
  if (ledger) vf.dp_budget = privacy::PrivacyBudget{cfg.dp_sgd.epsilon, cfg.dp_sgd.delta};
  if (cfg.secagg.enabled) {
    vf.identities = virtual_identities(fleet.devices.size(), vf.research_seed);
    vf.secagg_policy = virtual_device_policy(cfg.secagg);
  }
  InprocTransport transport(pool, std::move(vf), cfg.federation.dropout_rate, cfg.run.seed);
  std::unordered_set<uint64_t> out_of_budget;  // devices that refused: they stop checking in
  double example_eps_max = 0.0;

  say(fmt("adapter: LoRA r=%d alpha=%g on %zu modules x %d layers = %lld parameters; %s, %s cohort %d of %zu, %d rounds, "
          "%d worker threads%s%s%s",
          cfg.lora.rank, cfg.lora.alpha, cfg.lora.target_modules.size(), static_cast<int>(base->config.n_layers),
          static_cast<long long>(d), std::string(coord.strategy().name()).c_str(), dp ? "Poisson" : "fixed",
          cfg.federation.cohort_size, fleet.devices.size(), cfg.federation.rounds, threads,
          dp ? fmt(", user-level DP (%s, z=%g, S=%g%s, delta=%.3g)", cfg.user_dp.mode.c_str(), cfg.user_dp.noise_multiplier,
                   cfg.user_dp.l2_norm_clip, cfg.user_dp.adaptive_clipping ? " adaptive" : "", user_delta).c_str()
             : "",
          ledger ? fmt(", DP-SGD (sigma=%g, C=%g, budget eps=%g)", cfg.dp_sgd.noise_multiplier, cfg.dp_sgd.l2_norm_clip,
                       cfg.dp_sgd.epsilon).c_str()
                 : "",
          cfg.secagg.enabled ? ", secure aggregation" : ""));

  std::ofstream metrics(summary.run_dir / "metrics.jsonl", std::ios::trunc);
  if (!metrics) throw std::runtime_error("cannot write " + (summary.run_dir / "metrics.jsonl").string());

  summary.before = evaluate_global(pool, base, layout, coord.theta(), fleet, 0);
  say(fmt("round %3d  base model       eval acc %.4f  ppl %.2f  (%lld tokens, %zu users)", 0, summary.before.accuracy,
          summary.before.perplexity, static_cast<long long>(summary.before.tokens), fleet.eval_devices.size()));
  metrics << json{{"round", 0}, {"eval", eval_json(summary.before)}}.dump() << "\n";
  EvalPoint last_eval = summary.before;

  for (int r = 1; r <= cfg.federation.rounds; ++r) {
    const auto t_round = std::chrono::steady_clock::now();
    if (!dp && out_of_budget.size() + static_cast<size_t>(cfg.federation.cohort_size) > fleet.devices.size()) {
      say(fmt("stopping after round %d: only %zu devices still have privacy budget", r - 1,
              fleet.devices.size() - out_of_budget.size()));
      break;
    }
    const InprocRound round = transport.run_round(driver, device_ids, out_of_budget);
    const RoundDeviceCounts counts = count_devices(round);
    for (const auto& dev : round.devices) {
      if (dev.report.status == client::DeviceStatus::kRefusedBudget) out_of_budget.insert(dev.device);
      if (dev.report.status == client::DeviceStatus::kRejected)
        say(fmt("  device %llu: update rejected: %s", static_cast<unsigned long long>(dev.device), dev.report.error.c_str()));
      if (dev.refused_task)
        say(fmt("  device %llu: refused the task: %s", static_cast<unsigned long long>(dev.device), dev.refused_task->c_str()));
    }
    example_eps_max = std::max(example_eps_max, counts.example_epsilon_max);
    const auto& rep = round.report;
    summary.bytes_up += rep.traffic.bytes_up;
    summary.bytes_down += rep.traffic.bytes_down;
    if (rep.record.aborted) ++summary.rounds_aborted;
    else ++summary.rounds_completed;

    json line = round_metrics(round, counts, driver.user_dp() ? &driver.user_dp()->settings() : nullptr, cfg.private_run());
    if (ledger) {
      line["refused_devices"] = counts.refused_budget;
      if (cfg.private_run()) line["example_epsilon_max"] = example_eps_max;
      line["devices_out_of_budget"] = out_of_budget.size();
    }
    std::string eval_str;
    if (r % cfg.federation.eval_every == 0 || r == cfg.federation.rounds) {
      last_eval = evaluate_global(pool, base, layout, coord.theta(), fleet, r);
      line["eval"] = eval_json(last_eval);
      eval_str = fmt("  eval acc %.4f  ppl %.2f", last_eval.accuracy, last_eval.perplexity);
    }
    const double round_s = seconds_since(t_round);
    line["wall_s"] = round_s;
    metrics << line.dump() << "\n";
    metrics.flush();
    std::string priv;
    if (dp && cfg.private_run() && rep.epsilon) {
      const double c = rep.epsilon->coordinator.worst_user.rdp.epsilon;
      priv += fmt("  eps released %.3f / coordinator %s", rep.epsilon->released_model.epsilon,
                  std::isinf(c) ? "inf" : fmt("%.3f", c).c_str());
    }
    if (ledger) priv += fmt("  ex-eps %.2f  refused %d", example_eps_max, counts.refused_budget);
    say(fmt("round %3d/%d  n %2d  train loss %.4f%s%s  %5.1f s  up %.1f MB%s", r, cfg.federation.rounds, rep.cohort,
            counts.train_loss, eval_str.c_str(), priv.c_str(), round_s, static_cast<double>(rep.traffic.bytes_up) / 1e6,
            rep.record.aborted ? ("  ABORTED: " + rep.record.abort_reason).c_str() : ""));
  }

  const auto last_round = static_cast<int64_t>(coord.next_round()) - 1;
  if (last_eval.round != last_round) last_eval = evaluate_global(pool, base, layout, coord.theta(), fleet, last_round);
  summary.after = last_eval;
  if (dp)
    summary.user_dp = json{{"mechanism", cfg.user_dp.mechanism},
                           {"delta", user_delta},
                           {"epsilon", cfg.private_run() ? coordinator::epsilon_json(driver.user_dp()->epsilon(),
                                                                                     driver.user_dp()->settings())
                                                         : json(nullptr)}};

  write_run_outputs(cfg, setup, std::span<const float>(coord.theta().data(), static_cast<size_t>(d)), last_round, threads,
                    ledger ? example_eps_max : -1.0, summary, seconds_since(t0));
  return summary;
}

}  // namespace fedlora::sim
