#include "simulator/run/simulation.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
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
#include "coordinator/protocol/failpoint.h"
#include "secure-agg/crypto/random.h"
#include "simulator/fleet/availability.h"
#include "simulator/fleet/device_profiles.h"
#include "simulator/run/centralized_run.h"
#include "simulator/run/device_timing.h"
#include "simulator/run/fedbuff_run.h"
#include "simulator/run/inproc_transport.h"
#include "simulator/multi/sharded_transport.h"
#include "simulator/run/metrics_log.h"
#include "simulator/run/personalization.h"
#include "simulator/run/run_checkpoint.h"
#include "simulator/run/round_metrics.h"
#include "simulator/run/sim_setup.h"

namespace fedlora::sim {
namespace fs = std::filesystem;
using nlohmann::json;
using protocol::derive_seed;

namespace {


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
// locked, so the worker threads share it). "" = a ledger in the run folder: a simulation's
// virtual devices start unspent, and a resumed run restores the snapshot of its checkpoint.
fs::path ledger_path(const SimConfig& cfg, const fs::path& run_dir) {
  return cfg.dp_sgd.ledger.empty() ? run_dir / "privacy_ledger.sqlite" : fs::path(cfg.dp_sgd.ledger);
}

std::optional<privacy::PrivacyLedger> open_ledger(const SimConfig& cfg, const fs::path& run_dir, bool fresh) {
  if (!cfg.dp_sgd.enabled) return std::nullopt;
  const fs::path p = ledger_path(cfg, run_dir);
  if (fresh && cfg.dp_sgd.ledger.empty())
    for (const char* suffix : {"", "-wal", "-shm"}) fs::remove(p.string() + suffix);
  return privacy::PrivacyLedger::open(p);
}

void make_run_dir(const fs::path& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw std::runtime_error("cannot create the run folder " + dir.string() + ": " + ec.message());
  if (::access(dir.c_str(), W_OK) != 0)
    throw std::runtime_error("the run folder " + dir.string() + " is not writable: " + std::strerror(errno) +
                             " (choose another run.output_dir)");
}

// The devices eligible at the clock's time `now`, advancing it in 5-minute steps until at
// least ⌈K · over_selection⌉ are (a real coordinator waits for check-ins the same way).
std::vector<std::uint64_t> wait_for_eligible(const SimConfig& cfg, const AvailabilityModel& availability,
                                             const std::vector<std::uint64_t>& ids,
                                             const std::unordered_set<std::uint64_t>& ineligible, double& now) {
  if (cfg.fleet.availability == Availability::always) return ids;
  const auto wanted = static_cast<std::size_t>(
      std::ceil(static_cast<double>(cfg.federation.cohort_size) * cfg.federation.over_selection));
  constexpr double kStep = 300.0, kMaxWait = 7 * 86400.0;
  std::size_t most = 0;
  for (double waited = 0; waited <= kMaxWait; waited += kStep, now += kStep) {
    std::vector<std::uint64_t> eligible;
    for (auto id : ids)
      if (!ineligible.contains(id) && availability.available_until(id, now)) eligible.push_back(id);
    if (eligible.size() >= wanted) return eligible;
    most = std::max(most, eligible.size());
  }
  throw ConfigError(fmt("fleet: at most %zu devices were eligible at once in 7 simulated days, and a round selects %zu; "
                        "raise fleet.eligible_by_hour or fleet.session_minutes, or lower federation.cohort_size",
                        most, wanted));
}

double quantile(std::vector<double> v, double q) {
  if (v.empty()) return 0.0;
  std::sort(v.begin(), v.end());
  const auto i = static_cast<std::size_t>(std::ceil(q * static_cast<double>(v.size()))) - (q > 0 ? 1 : 0);
  return v[std::min(i, v.size() - 1)];
}

// The round's simulated-clock fields of metrics.jsonl, and the run's totals.
void record_clock(const ClockedRound& c, RunState& st, json& line) {
  std::vector<double> reports;
  double compute = 0;
  for (std::size_t i = 0; i < c.times.size(); ++i) {
    if (c.cut.fate[i] == MemberFate::reported) reports.push_back(c.times[i].report_s);
    if (c.cut.fate[i] != MemberFate::silent) compute += c.times[i].compute_s;
  }
  st.sim_time_s += c.duration_s;
  st.sim_round_s.push_back(c.duration_s);
  st.stragglers += c.cut.stragglers;
  st.left += c.cut.left;
  st.compute_s += compute;
  st.wasted_compute_s += c.cut.wasted_compute_s;
  line["sim_round_s"] = c.duration_s;
  line["sim_time_s"] = st.sim_time_s;
  line["report_s"] = json{{"p50", quantile(reports, 0.5)}, {"p90", quantile(reports, 0.9)},
                          {"max", reports.empty() ? 0.0 : *std::max_element(reports.begin(), reports.end())}};
  line["stragglers"] = c.cut.stragglers;
  line["left"] = c.cut.left;
  line["wasted_compute_s"] = c.cut.wasted_compute_s;
}

}  // namespace

void refuse_for_ranks(const SimConfig& cfg, bool resume) {
  if (cfg.federation.mode == "centralized")
    throw ConfigError("federation.mode = \"centralized\" trains in one process; run it without --world-size");
  if (cfg.async.mode == "fedbuff")
    throw ConfigError("server.mode = \"fedbuff\" runs in one process only; run it without --world-size");
  if (resume) throw ConfigError("--resume is not supported with --world-size > 1; start the run again");
}

SimulationSummary run_simulation(const SimConfig& cfg, const ProgressFn& progress, const RunOptions& options) {
  if (options.ranks) refuse_for_ranks(cfg, options.resume);
  if (cfg.federation.mode == "centralized") return run_centralized(cfg, progress, options);
  if (cfg.async.mode == "fedbuff") return run_fedbuff(cfg, progress, options);
  const auto t0 = std::chrono::steady_clock::now();
  lora::keep_freed_memory_in_heap();
  auto say = [&](const std::string& s) {
    if (progress) progress(s);
  };
  const bool dp = cfg.user_dp.enabled;
  if (options.resume && dp && cfg.user_dp.mechanism == "dp_ftrl")
    throw ResumeError("--resume is not supported for user_dp.mechanism = \"dp_ftrl\": its tree-aggregation noise state "
                      "is not checkpointed, and restarting a tree would break its privacy accounting; start the run "
                      "again without --resume");
  SimulationSummary summary;
  summary.run_dir = cfg.run.output_dir / cfg.run.name;
  summary.private_run = cfg.private_run();
  make_run_dir(summary.run_dir);
  if (cfg.dp_enabled() && !cfg.private_run())
    say("NOT PRIVATE: run.reproducible_noise = true draws DP noise from the run seed; no epsilon is reported");

  const SimSetup setup = set_up_simulation(cfg, progress);
  const auto& base = setup.base;
  const Fleet& fleet = *setup.fleet;
  const auto device_ids = fleet.ids();
  const auto population = static_cast<int64_t>(fleet.size());
  const int threads = worker_threads(cfg);
  WorkerPool pool(threads);

  // The coordinator's side: θ_0, the strategy, user-level DP, the round driver. Research
  // runs key their coordinator noise streams by (seed, round), so that a resumed run draws
  // exactly what an uninterrupted one would.
  const auto& layout = *setup.layout;
  const auto& theta0 = setup.theta0;
  const Eigen::Index d = layout.size();
  const bool seeded = !cfg.private_run();
  auto cohort_noise = std::make_shared<privacy::NoiseSource>(
      seeded ? privacy::NoiseSource::from_seed(cfg.run.seed, {0xC0407, privacy::noise_stream::kCohortSampling})
             : privacy::NoiseSource::from_os_entropy());
  coordinator::Coordinator coord(
      layout, Eigen::Map<const Eigen::VectorXf>(theta0.data(), d),
      std::make_unique<coordinator::FedOptStrategy>(
          coordinator::strategy_config_for(cfg, derive_seed(cfg.run.seed, {0xC0407}), cfg.federation.over_selection, 0,
                                           cohort_noise),
          d),
      coordinator::CoordinatorOptions{{}, cfg.model.base.filename().string()});
  coordinator::RoundPolicy policy;
  static_cast<config::JobConfig&>(policy.job) = cfg;
  policy.base_model_sha256 = protocol::sha256_of_file(cfg.model.base);
  policy.run_seed = cfg.run.seed;
  const auto fingerprint = run_fingerprint(cfg, policy.base_model_sha256, fleet, d);

  std::optional<FoundCheckpoint> resumed;
  if (options.resume) {
    resumed = load_run_checkpoint(summary.run_dir, fingerprint);
    if (!resumed) say("--resume: " + summary.run_dir.string() + " has no checkpoint; starting from round 0");
  }
  if (!resumed) clear_run_checkpoints(summary.run_dir);
  RunState st;
  if (resumed) {
    st = resumed->state;
    coord.restore_checkpoint(resumed->dir);
    if (cfg.dp_sgd.enabled && cfg.dp_sgd.ledger.empty()) {
      if (!resumed->has_ledger) throw ResumeError("checkpoint " + resumed->dir.string() + " has no DP-SGD ledger snapshot");
      restore_ledger_snapshot(resumed->dir, ledger_path(cfg, summary.run_dir));
    } else if (cfg.dp_sgd.enabled) {
      say("--resume: the ledger " + cfg.dp_sgd.ledger + " is not the run's own: spending of the interrupted round stays "
          "charged (a ledger never forgets spending), so later rounds may differ from an uninterrupted run");
    }
    say(fmt("resuming after round %lld from %s", static_cast<long long>(st.round), resumed->dir.c_str()));
  }

  double user_delta = 0.0;
  auto make_dp_server = [&](std::uint64_t round) {
    const auto us = coordinator::user_dp_settings_for(cfg, population);
    user_delta = us.delta;
    return coordinator::UserDpServer(
        us,
        seeded ? privacy::NoiseSource::from_seed(cfg.run.seed, {0xC0DE, privacy::noise_stream::kCentralNoise, round})
               : privacy::NoiseSource::from_os_entropy(),
        coordinator::update_dimension(cfg, *setup.layout));
  };
  // The driver carries the user-level DP server; research runs rebuild both every round
  // (fresh per-round noise stream, accounting carried over through state()/restore()).
  auto make_driver = [&](std::uint64_t round, const std::optional<coordinator::UserDpServer::State>& dp_state) {
    std::optional<coordinator::UserDpServer> server;
    if (dp) {
      server.emplace(make_dp_server(round));
      if (dp_state) server->restore(*dp_state);
    }
    return std::make_unique<coordinator::RoundDriver>(coord, std::move(server), policy,
                                                      std::make_unique<secagg::crypto::SystemRandom>());
  };
  const bool rebuild_every_round = dp && seeded && cfg.user_dp.mechanism != "dp_ftrl";
  auto driver = make_driver(static_cast<std::uint64_t>(st.round) + 1, st.user_dp);

  auto ledger = open_ledger(cfg, summary.run_dir, !resumed);
  const auto fleet_clock = make_fleet_clock(cfg, setup);
  const AvailabilityModel& availability = *fleet_clock->availability;
  VirtualFleet vf = make_virtual_fleet(cfg, setup, policy.base_model_sha256, ledger ? &*ledger : nullptr, *fleet_clock);
  std::unique_ptr<RoundTransport> transport;
  if (options.ranks) {
    auto roster = cfg.secagg.enabled ? exchange_identities(*options.ranks, vf.identities)
                                     : std::vector<secagg::crypto::Ed25519PublicKey>{};
    transport = std::make_unique<ShardedTransport>(*options.ranks, pool, std::move(vf), std::move(roster),
                                                   cfg.federation.dropout_rate, cfg.run.seed);
  } else {
    transport = std::make_unique<InprocTransport>(pool, std::move(vf), cfg.federation.dropout_rate, cfg.run.seed);
  }
  std::unordered_set<uint64_t> out_of_budget(st.out_of_budget.begin(), st.out_of_budget.end());
  const fs::path own_ledger = ledger && cfg.dp_sgd.ledger.empty() ? ledger_path(cfg, summary.run_dir) : fs::path();

  say(fmt("adapter: LoRA r=%d alpha=%g on %zu modules x %d layers = %lld parameters; %s, %s cohort %d of %zu, %d rounds, "
          "%d worker threads%s%s%s",
          cfg.lora.rank, cfg.lora.alpha, cfg.lora.target_modules.size(), static_cast<int>(base->config.n_layers),
          static_cast<long long>(d), std::string(coord.strategy().name()).c_str(), dp ? "Poisson" : "fixed",
          cfg.federation.cohort_size, fleet.size(), cfg.federation.rounds, threads,
          dp ? fmt(", user-level DP (%s, z=%g, S=%g%s, delta=%.3g)", cfg.user_dp.mode.c_str(), cfg.user_dp.noise_multiplier,
                   cfg.user_dp.l2_norm_clip, cfg.user_dp.adaptive_clipping ? " adaptive" : "", user_delta).c_str()
             : "",
          ledger ? fmt(", DP-SGD (sigma=%g, C=%g, budget eps=%g)", cfg.dp_sgd.noise_multiplier, cfg.dp_sgd.l2_norm_clip,
                       cfg.dp_sgd.epsilon).c_str()
                 : "",
          cfg.secagg.enabled ? ", secure aggregation" : ""));

  // Every round: checkpoint (with the round's metrics line), then append the line, so the
  // file never holds a round the checkpoint has not got; a resume reconciles the other case.
  const fs::path metrics_path = summary.run_dir / "metrics.jsonl";
  const double wall_before = st.wall_s;
  auto commit_round = [&](MetricsLog& log) {
    st.wall_s = wall_before + seconds_since(t0);
    // DP-FTRL keeps its tree noise outside the checkpoint: such runs cannot resume (refused above).
    if (driver->user_dp() && cfg.user_dp.mechanism != "dp_ftrl") st.user_dp = driver->user_dp()->state();
    write_run_checkpoint(summary.run_dir, coord, st, fingerprint, own_ledger);
    protocol::failpoint("sim_checkpoint_written");
    log.append(st.metrics_line);
    protocol::failpoint("sim_metrics_appended");
  };
  if (resumed) reconcile_metrics(metrics_path, st.round, st.metrics_line);
  MetricsLog metrics(metrics_path, !resumed);
  if (!resumed) {
    st.before = evaluate_global(pool, base, layout, coord.theta(), fleet, 0, eval_options(cfg, setup));
    st.last_eval = st.before;
    st.metrics_line = json{{"round", 0}, {"eval", eval_json(st.before)}}.dump();
    commit_round(metrics);
  }
  summary.before = st.before;
  say(fmt("round %3d  base model       eval acc %.4f  ppl %.2f  (%lld tokens, %zu users)", 0, summary.before.accuracy,
          summary.before.perplexity, static_cast<long long>(summary.before.tokens), fleet.eval_devices.size()));

  const int first_round = static_cast<int>(st.round) + 1;
  for (int r = first_round; r <= cfg.federation.rounds; ++r) {
    const auto t_round = std::chrono::steady_clock::now();
    if (!dp && out_of_budget.size() + static_cast<size_t>(cfg.federation.cohort_size) > fleet.size()) {
      say(fmt("stopping after round %d: only %zu devices still have privacy budget", r - 1,
              fleet.size() - out_of_budget.size()));
      break;
    }
    if (seeded) *cohort_noise = privacy::NoiseSource::from_seed(
        cfg.run.seed, {0xC0407, privacy::noise_stream::kCohortSampling, static_cast<std::uint64_t>(r)});
    if (rebuild_every_round && r > first_round)
      driver = make_driver(static_cast<std::uint64_t>(r), driver->user_dp()->state());
    protocol::failpoint("sim_round_started");
    const std::vector<std::uint64_t> eligible = wait_for_eligible(cfg, availability, device_ids, out_of_budget, st.sim_time_s);
    const RoundClockSpec clock{&fleet_clock->timer, st.sim_time_s, dp ? std::numeric_limits<int>::max() : cfg.federation.cohort_size,
                               cfg.fleet.round_deadline_s};
    const InprocRound round = transport->run_round(*driver, eligible, out_of_budget, &clock);
    const RoundDeviceCounts counts = count_devices(round);
    for (const auto& dev : round.devices) {
      if (dev.report.status == client::DeviceStatus::kRefusedBudget) out_of_budget.insert(dev.device);
      if (dev.report.status == client::DeviceStatus::kRejected)
        say(fmt("  device %llu: update rejected: %s", static_cast<unsigned long long>(dev.device), dev.report.error.c_str()));
      if (dev.refused_task)
        say(fmt("  device %llu: refused the task: %s", static_cast<unsigned long long>(dev.device), dev.refused_task->c_str()));
    }
    st.example_eps_max = std::max(st.example_eps_max, counts.example_epsilon_max);
    const auto& rep = round.report;
    st.bytes_up += rep.traffic.bytes_up;
    st.bytes_down += rep.traffic.bytes_down;
    if (rep.record.aborted) ++st.rounds_aborted;
    else ++st.rounds_completed;

    json line = round_metrics(round, counts, driver->user_dp() ? &driver->user_dp()->settings() : nullptr, cfg.private_run());
    if (round.clock) record_clock(*round.clock, st, line);
    if (ledger) {
      line["refused_devices"] = counts.refused_budget;
      if (cfg.private_run()) line["example_epsilon_max"] = st.example_eps_max;
      line["devices_out_of_budget"] = out_of_budget.size();
    }
    std::string eval_str;
    if (evaluation_due(cfg, r)) {
      st.last_eval = evaluate_global(pool, base, layout, coord.theta(), fleet, r, eval_options(cfg, setup));
      line["eval"] = eval_json(st.last_eval);
      eval_str = fmt("  eval acc %.4f  ppl %.2f", st.last_eval.accuracy, st.last_eval.perplexity);
      if (st.last_eval.next_word_positions > 0)
        eval_str += fmt("  next-word top-1 %.3f top-3 %.3f", st.last_eval.next_word_top1, st.last_eval.next_word_top3);
    }
    const double round_s = seconds_since(t_round);
    line["wall_s"] = round_s;
    st.round = r;
    st.metrics_line = line.dump();
    st.out_of_budget.assign(out_of_budget.begin(), out_of_budget.end());
    std::sort(st.out_of_budget.begin(), st.out_of_budget.end());
    commit_round(metrics);
    std::string priv;
    if (dp && cfg.private_run() && rep.epsilon) {
      const double c = rep.epsilon->coordinator.worst_user.rdp.epsilon;
      priv += fmt("  eps released %.3f / coordinator %s", rep.epsilon->released_model.epsilon,
                  std::isinf(c) ? "inf" : fmt("%.3f", c).c_str());
    }
    if (ledger) priv += fmt("  ex-eps %.2f  refused %d", st.example_eps_max, counts.refused_budget);
    const std::string stragglers =
        round.clock && round.clock->cut.stragglers > 0 ? fmt("  %d stragglers", round.clock->cut.stragglers) : "";
    say(fmt("round %3d/%d  n %2d  train loss %.4f%s%s  %5.1f s (simulated %.1f min)%s  up %.1f MB%s", r,
            cfg.federation.rounds, rep.cohort, counts.train_loss, eval_str.c_str(), priv.c_str(), round_s,
            st.sim_time_s / 60.0, stragglers.c_str(), static_cast<double>(rep.traffic.bytes_up) / 1e6,
            rep.record.aborted ? ("  ABORTED: " + rep.record.abort_reason).c_str() : ""));
  }

  summary.rounds_completed = st.rounds_completed;
  summary.rounds_aborted = st.rounds_aborted;
  summary.bytes_up = st.bytes_up;
  summary.bytes_down = st.bytes_down;
  summary.simulated_time = json{{"total_s", st.sim_time_s},
                                {"round_s", {{"p50", quantile(st.sim_round_s, 0.5)},
                                             {"p90", quantile(st.sim_round_s, 0.9)},
                                             {"max", quantile(st.sim_round_s, 1.0)}}},
                                {"stragglers", st.stragglers},
                                {"left", st.left},
                                {"device_compute_s", st.compute_s},
                                {"wasted_compute_s", st.wasted_compute_s},
                                {"wasted_share", st.compute_s > 0 ? st.wasted_compute_s / st.compute_s : 0.0}};
  const auto last_round = static_cast<int64_t>(coord.next_round()) - 1;
  EvalPoint last_eval = st.last_eval;
  if (last_eval.round != last_round) last_eval = evaluate_global(pool, base, layout, coord.theta(), fleet, last_round, eval_options(cfg, setup));
  summary.after = last_eval;
  if (dp)
    summary.user_dp = json{{"mechanism", cfg.user_dp.mechanism},
                           {"delta", user_delta},
                           {"epsilon", cfg.private_run() ? coordinator::epsilon_json(driver->user_dp()->epsilon(),
                                                                                     driver->user_dp()->settings())
                                                         : json(nullptr)}};

  summary.personalization = run_personalization(
      cfg, setup, pool, std::span<const float>(coord.theta().data(), static_cast<size_t>(d)), summary.run_dir, progress);
  write_run_outputs(cfg, setup, std::span<const float>(coord.theta().data(), static_cast<size_t>(d)), last_round, threads,
                    ledger ? st.example_eps_max : -1.0, summary, wall_before + seconds_since(t0));
  return summary;
}

}  // namespace fedlora::sim
