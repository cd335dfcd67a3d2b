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

#include "coordinator/round/coordinator.h"
#include "coordinator/round/user_dp_server.h"
#include "coordinator/strategy/fedopt_strategy.h"
#include "lora/adapter/adapter_init.h"
#include "lora/adapter/adapter_io.h"
#include "lora/adapter/splitmix64.h"
#include "lora/format/gguf_reader.h"
#include "lora/model/lora_model.h"
#include "lora/model/runtime.h"
#include "lora/tokenizer/gguf_vocab.h"
#include "privacy/errors.h"
#include "privacy/user_dp/user_level_dp.h"
#include "simulator/run/aggregation_channel.h"
#include "simulator/run/device_round.h"

namespace fedlora::sim {
namespace fs = std::filesystem;
using nlohmann::json;

uint64_t derive_seed(uint64_t run_seed, std::initializer_list<uint64_t> path) {
  auto mix = [](uint64_t z) { return lora::splitmix64_mix(z + 0x9E3779B97F4A7C15ull); };
  uint64_t h = mix(run_seed);
  for (uint64_t p : path) h = mix(h ^ mix(p + 0x632BE59BD9B4E019ull));
  return h;
}

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

json eval_json(const EvalPoint& e) {
  return json{{"accuracy", e.accuracy}, {"loss", e.loss}, {"perplexity", e.perplexity}, {"tokens", e.tokens}};
}

coordinator::StrategyConfig strategy_config(const SimConfig& cfg) {
  coordinator::StrategyConfig sc;
  sc.cohort_size = static_cast<size_t>(cfg.federation.cohort_size);
  sc.seed = derive_seed(cfg.run.seed, {0xC0407});
  if (cfg.user_dp.enabled) {
    // DP-FedAvg: Poisson cohorts (what the accountant assumes), uniform weights, ÷ expected K.
    sc.sampling = coordinator::CohortSampling::kPoisson;
    sc.aggregation = coordinator::AggregationPolicy::fixed_denominator_uniform();
  } else {
    sc.aggregation = cfg.server.weighting == Weighting::examples ? coordinator::AggregationPolicy::example_weighted()
                                                                : coordinator::AggregationPolicy::uniform();
  }
  sc.server_optimizer = cfg.server.optimizer;
  sc.fedprox.mu = cfg.client.fedprox_mu;
  sc.min_contributors = cfg.federation.min_contributors;
  return sc;
}

coordinator::UserDpSettings user_dp_settings(const SimConfig& cfg, int64_t population) {
  coordinator::UserDpSettings us;
  us.mode = cfg.user_dp.mode == "distributed" ? privacy::NoiseMode::kDistributed : privacy::NoiseMode::kCentral;
  us.noise_multiplier = cfg.user_dp.noise_multiplier;
  us.l2_norm_clip = cfg.user_dp.l2_norm_clip;
  us.adaptive_clipping = cfg.user_dp.adaptive_clipping;
  us.target_quantile = cfg.user_dp.target_quantile;
  us.clip_learning_rate = cfg.user_dp.clip_learning_rate;
  us.count_noise_stddev = cfg.user_dp.count_noise_stddev;
  us.expected_cohort = cfg.federation.cohort_size;
  us.population = population;
  us.delta = cfg.user_dp.delta > 0 ? cfg.user_dp.delta : std::pow(static_cast<double>(population), -1.1);
  return us;
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

// Fixed-point range c for SecAgg: explicit, or from the DP settings (each coordinate of a
// clipped update is within ±S, device noise adds N(0, (zS/√t)²): 6σ of headroom), else 8.
double secagg_clip_range(const SimConfig& cfg, const std::optional<coordinator::DeviceDpInstructions>& dpi) {
  if (cfg.secagg.clip_range > 0) return cfg.secagg.clip_range;
  if (!dpi) return 8.0;
  const auto& u = dpi->update;
  const double sd = u.mode == privacy::NoiseMode::kDistributed
                        ? privacy::per_device_noise_stddev(u.noise_multiplier, u.l2_norm_clip, u.min_contributors)
                        : 0.0;
  return std::max(u.l2_norm_clip + 6.0 * sd, 0.5 + 6.0 * dpi->clip_indicator_noise_stddev);
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
  fs::create_directories(summary.run_dir);

  // The base: loaded once, re-encoded to the configured type, shared read-only by all devices.
  const auto model_file = lora::gguf::GgufFile::open(cfg.model.base);
  const lora::SpmTokenizer tokenizer(lora::read_gguf_vocab(model_file));
  const auto base = lora::load_base_model(cfg.model.base, cfg.model.quantize);
  say(fmt("base %s: %s, weights %s, %.2f MB resident", cfg.model.base.c_str(), base->config.summary().c_str(),
          weight_type_name(cfg.model.quantize).c_str(), static_cast<double>(base->resident_bytes()) / 1e6));

  const Fleet fleet = build_fleet(cfg, tokenizer, base->config.context_length, derive_seed(cfg.run.seed, {0xDA7A}),
                                  derive_seed(cfg.run.seed, {0xE7A1}));
  const auto device_ids = fleet.ids();
  const auto population = static_cast<int64_t>(fleet.devices.size());
  say(fmt("population: %zu users (%zu train / %zu test texts, %zu train tokens) from %s", fleet.devices.size(),
          fleet.train_texts, fleet.test_texts, fleet.train_tokens, cfg.data.path.c_str()));

  const int threads = cfg.run.threads > 0 ? cfg.run.threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  WorkerPool pool(threads);

  const auto layout = lora::make_adapter_layout(base->config, cfg.lora.rank, cfg.lora.alpha, cfg.lora.target_modules);
  const auto theta0 = lora::init_adapter_vector(layout, derive_seed(cfg.run.seed, {0xADA9}));
  const Eigen::Index d = layout.size();
  coordinator::Coordinator coord(
      layout, Eigen::Map<const Eigen::VectorXf>(theta0.data(), d),
      std::make_unique<coordinator::FedOptStrategy>(strategy_config(cfg), d),
      coordinator::CoordinatorOptions{summary.run_dir / "checkpoint", cfg.model.base.filename().string()});
  const bool dp = cfg.user_dp.enabled;
  std::optional<coordinator::UserDpServer> dp_server;
  if (dp) {
    const auto us = user_dp_settings(cfg, population);
    dp_server.emplace(us, privacy::NoiseSource::from_seed(cfg.run.seed, {0xC0DE, privacy::noise_stream::kUserUpdateNoise}));
    summary.user_delta = us.delta;
  }
  auto ledger = open_ledger(cfg, summary.run_dir);
  std::unordered_set<uint64_t> out_of_budget;  // devices that refused: they stop checking in
  double example_eps_max = 0.0;

  say(fmt("adapter: LoRA r=%d alpha=%g on %zu modules x %d layers = %lld parameters; %s, %s cohort %d of %zu, %d rounds, "
          "%d worker threads%s%s%s",
          cfg.lora.rank, cfg.lora.alpha, cfg.lora.target_modules.size(), static_cast<int>(base->config.n_layers),
          static_cast<long long>(d), std::string(coord.strategy().name()).c_str(), dp ? "Poisson" : "fixed",
          cfg.federation.cohort_size, fleet.devices.size(), cfg.federation.rounds, threads,
          dp ? fmt(", user-level DP (%s, z=%g, S=%g%s, delta=%.3g)", cfg.user_dp.mode.c_str(), cfg.user_dp.noise_multiplier,
                   cfg.user_dp.l2_norm_clip, cfg.user_dp.adaptive_clipping ? " adaptive" : "", summary.user_delta).c_str()
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
  const int64_t model_bytes = d * static_cast<int64_t>(sizeof(float));

  for (int r = 1; r <= cfg.federation.rounds; ++r) {
    const auto t_round = std::chrono::steady_clock::now();
    if (!dp && out_of_budget.size() + static_cast<size_t>(cfg.federation.cohort_size) > fleet.devices.size()) {
      say(fmt("stopping after round %d: only %zu devices still have privacy budget", r - 1,
              fleet.devices.size() - out_of_budget.size()));
      break;
    }
    const auto task = coord.open_round(device_ids, out_of_budget);
    const size_t k = task.cohort.size();
    json line{{"round", r}, {"cohort", k}};

    // SecAgg parameters for this cohort size (Poisson cohorts vary), and the DP instructions.
    std::optional<SecAggPlan> plan;
    std::string setup_error = k == 0 ? "empty cohort" : "";
    if (cfg.secagg.enabled && k > 0) {
      try {
        plan = plan_secagg(static_cast<uint32_t>(k), cfg.secagg);
      } catch (const ConfigError& e) {
        setup_error = e.what();
      }
    }
    const int64_t t_min = plan ? plan->threshold : 1;
    std::optional<coordinator::DeviceDpInstructions> dpi;
    if (dp) dpi = dp_server->instructions(t_min);

    coordinator::RoundRecord rec;
    ChannelResult channel;
    std::vector<DeviceReport> reports;
    if (!setup_error.empty()) {
      rec = coord.abort_round(setup_error);
    } else {
      DeviceRoundContext ctx{cfg, base, layout,
                             std::span<const float>(task.theta->data(), static_cast<size_t>(task.theta->size())),
                             static_cast<uint64_t>(r), task.client_config.fedprox.mu, {}, plan.has_value(),
                             ledger ? &*ledger : nullptr};
      ctx.upload.weight_by_examples = !dp && cfg.server.weighting == Weighting::examples;
      if (dpi) {
        ctx.upload.user_dp = dpi->update;
        ctx.upload.report_clip_indicator = dpi->report_clip_indicator;
        ctx.upload.clip_indicator_noise_stddev = dpi->clip_indicator_noise_stddev;
      }
      auto cohort = run_cohort(pool, ctx, task.cohort, fleet);
      reports = std::move(cohort.devices);

      const size_t length = static_cast<size_t>(d) + (ctx.upload.report_clip_indicator ? 1 : 0);
      channel = plan ? secure_sum(cohort.uploads, length, ctx.upload.weight_by_examples,
                                  static_cast<double>(fleet.max_train_examples()), secagg_clip_range(cfg, dpi), cfg.secagg,
                                  *plan, static_cast<uint64_t>(r), derive_seed(cfg.run.seed, {0x5EC}))
                     : plain_sum(cohort.uploads, length);
      channel.bytes_down += static_cast<int64_t>(k) * model_bytes;  // θ_t sent to every cohort member

      if (channel.aborted) {
        rec = coord.abort_round(channel.abort_reason);
      } else if (channel.contributors < cfg.federation.min_contributors) {
        rec = coord.abort_round(fmt("%d contributors < min_contributors %d", channel.contributors,
                                    cfg.federation.min_contributors));
      } else {
        coordinator::UpdateAggregate agg;
        agg.weighted_sum = channel.value_sum.head(d);
        agg.total_weight = channel.weight_sum;
        agg.num_contributors = channel.contributors;
        agg.expected_cohort_size = cfg.federation.cohort_size;
        std::string dp_error;
        if (dp) {
          std::optional<double> indicator;
          if (ctx.upload.report_clip_indicator) indicator = channel.value_sum[d];
          try {
            dp_server->finalize(agg, t_min, indicator);
          } catch (const privacy::PrivacyError& e) {
            dp_error = e.what();
          }
        }
        rec = dp_error.empty() ? coord.close_round(agg) : coord.abort_round(dp_error);
      }
    }

    // Per-device outcomes, in cohort order.
    double loss_sum = 0;
    int64_t tok = 0;
    int rejected = 0, refused = 0, dropped = 0;
    for (size_t i = 0; i < reports.size(); ++i) {
      const auto& rep = reports[i];
      example_eps_max = std::max(example_eps_max, rep.example_epsilon);
      switch (rep.outcome) {
        case DeviceOutcome::uploaded:
          loss_sum += rep.train_loss * static_cast<double>(rep.tokens);
          tok += rep.tokens;
          break;
        case DeviceOutcome::dropped: ++dropped; break;
        case DeviceOutcome::refused:
          ++refused;
          out_of_budget.insert(task.cohort[i]);
          break;
        case DeviceOutcome::rejected:
          ++rejected;
          say(fmt("  device %llu: update rejected: %s", static_cast<unsigned long long>(task.cohort[i]), rep.error.c_str()));
          break;
      }
    }
    summary.bytes_up += channel.bytes_up;
    summary.bytes_down += channel.bytes_down;
    if (rec.aborted) ++summary.rounds_aborted;
    else ++summary.rounds_completed;
    line["contributors"] = channel.contributors;
    line["dropped"] = dropped;
    line["rejected_updates"] = rejected;
    line["aborted"] = rec.aborted;
    if (rec.aborted) line["abort_reason"] = rec.abort_reason;
    line["train_loss"] = tok ? loss_sum / static_cast<double>(tok) : 0.0;
    line["train_tokens"] = tok;
    line["update_norm"] = rec.outcome.pseudo_gradient_l2_norm;
    line["bytes_up"] = channel.bytes_up;
    line["bytes_down"] = channel.bytes_down;
    if (dp) {
      line["user_epsilon"] = dp_server->epsilon().epsilon;
      line["user_delta"] = summary.user_delta;
      line["clip_norm"] = dp_server->clip_norm();
    }
    if (ledger) {
      line["refused_devices"] = refused;
      line["example_epsilon_max"] = example_eps_max;
      line["devices_out_of_budget"] = out_of_budget.size();
    }
    if (plan)
      line["secagg"] = json{{"n", plan->n},
                            {"degree", plan->degree},
                            {"threshold", plan->threshold},
                            {"graph", plan->harary ? "harary" : "complete"},
                            {"client_cpu_s", channel.client_cpu_s},
                            {"server_cpu_s", channel.server_cpu_s},
                            {"clipped_values", channel.clipped_values}};
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
    if (dp) priv += fmt("  eps %.3f", line["user_epsilon"].get<double>());
    if (ledger) priv += fmt("  ex-eps %.2f  refused %d", example_eps_max, refused);
    say(fmt("round %3d/%d  n %2zu  train loss %.4f%s%s  %5.1f s  up %.1f MB%s", r, cfg.federation.rounds, k,
            tok ? loss_sum / static_cast<double>(tok) : 0.0, eval_str.c_str(), priv.c_str(), round_s,
            static_cast<double>(channel.bytes_up) / 1e6, rec.aborted ? ("  ABORTED: " + rec.abort_reason).c_str() : ""));
  }

  const auto last_round = static_cast<int64_t>(coord.next_round()) - 1;
  if (last_eval.round != last_round) last_eval = evaluate_global(pool, base, layout, coord.theta(), fleet, last_round);
  summary.after = last_eval;
  if (dp) summary.user_epsilon = dp_server->epsilon().epsilon;

  lora::save_adapter(summary.run_dir / "adapter", layout,
                     std::span<const float>(coord.theta().data(), static_cast<size_t>(d)),
                     cfg.model.base.filename().string(),
                     {{"fedlora.rounds", std::to_string(last_round)}, {"fedlora.seed", std::to_string(cfg.run.seed)}});
  summary.wall_s = seconds_since(t0);
  summary.peak_rss_bytes = lora::peak_rss_bytes();

  json conf = json::object();
  for (const auto& [key, v] : describe(cfg)) conf[key] = v;
  const json s{{"config", conf},
               {"seed", cfg.run.seed},
               {"population", fleet.devices.size()},
               {"eval_users", fleet.eval_devices.size()},
               {"adapter_parameters", d},
               {"base_resident_bytes", base->resident_bytes()},
               {"before", eval_json(summary.before)},
               {"after", eval_json(summary.after)},
               {"accuracy_gain", summary.after.accuracy - summary.before.accuracy},
               {"user_epsilon", dp ? json(summary.user_epsilon) : json(nullptr)},
               {"user_delta", dp ? json(summary.user_delta) : json(nullptr)},
               {"example_epsilon_max", ledger ? json(example_eps_max) : json(nullptr)},
               {"example_delta", ledger ? json(cfg.dp_sgd.delta) : json(nullptr)},
               {"rounds_completed", summary.rounds_completed},
               {"rounds_aborted", summary.rounds_aborted},
               {"bytes_up", summary.bytes_up},
               {"bytes_down", summary.bytes_down},
               {"wall_s", summary.wall_s},
               {"peak_rss_bytes", summary.peak_rss_bytes},
               {"threads", threads}};
  std::ofstream(summary.run_dir / "summary.json") << s.dump(2) << "\n";
  return summary;
}

}  // namespace fedlora::sim
