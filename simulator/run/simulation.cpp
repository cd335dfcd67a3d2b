#include "simulator/run/simulation.h"

#include <algorithm>
#include <cmath>
#include <cstdarg>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "client/data/eval_sample.h"
#include "client/data/shakespeare.h"
#include "client/data/user_directory.h"
#include "client/data/user_jsonl.h"
#include "client/train/local_trainer.h"
#include "client/train/user_examples.h"
#include "coordinator/round/coordinator.h"
#include "coordinator/strategy/fedopt_strategy.h"
#include "coordinator/strategy/update_aggregate.h"
#include "lora/adapter/adapter_init.h"
#include "lora/adapter/adapter_io.h"
#include "lora/adapter/splitmix64.h"
#include "lora/format/gguf_reader.h"
#include "lora/model/base_model.h"
#include "lora/model/lora_model.h"
#include "lora/model/runtime.h"
#include "lora/tokenizer/gguf_vocab.h"
#include "simulator/fleet/worker_pool.h"
#include "simulator/run/aggregation_channel.h"
#include "client/upload/device_upload.h"
#include "coordinator/round/user_dp_server.h"
#include "privacy/errors.h"
#include "privacy/ledger/privacy_ledger.h"
#include "client/train/private_round.h"
#include <mutex>
#include <unordered_set>
#include "privacy/noise/noise_source.h"

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

client::data::Corpus load_corpus(const DataSection& d) {
  client::data::SplitOptions so;
  so.min_examples = static_cast<size_t>(d.min_examples);
  so.train_percent = static_cast<unsigned>(d.train_percent);
  switch (d.format) {
    case DataFormat::shakespeare: return client::data::load_shakespeare_file(d.path, so);
    case DataFormat::directory: return client::data::load_user_directory(d.path, so);
    case DataFormat::jsonl: return client::data::load_user_jsonl(d.path, so);
  }
  throw ConfigError("unknown data format");
}

json eval_json(const EvalPoint& e) {
  return json{{"accuracy", e.accuracy}, {"loss", e.loss}, {"perplexity", e.perplexity}, {"tokens", e.tokens}};
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
  auto model_file = lora::gguf::GgufFile::open(cfg.model.base);
  const lora::SpmTokenizer tokenizer(lora::read_gguf_vocab(model_file));
  auto base = lora::load_base_model(cfg.model.base, cfg.model.quantize);
  say(fmt("base %s: %s, weights %s, %.2f MB resident", cfg.model.base.c_str(), base->config.summary().c_str(),
          weight_type_name(cfg.model.quantize).c_str(), static_cast<double>(base->resident_bytes()) / 1e6));

  // The population: one virtual device per user.
  auto corpus = load_corpus(cfg.data);
  auto population = corpus.population;
  if (cfg.data.max_users > 0 && static_cast<size_t>(cfg.data.max_users) < population.size()) {
    auto keep = client::data::sample_eval_users(population, static_cast<size_t>(cfg.data.max_users),
                                                derive_seed(cfg.run.seed, {0xDA7A}));
    std::vector<client::data::UserData> users;
    for (const auto& id : keep) users.push_back(population.at(id));
    population = client::data::Population(std::move(users));
  }
  std::vector<client::UserExamples> devices;
  devices.reserve(population.size());
  for (const auto& u : population.users()) devices.push_back(client::tokenize_user(u, tokenizer, base->config.context_length));
  std::vector<uint64_t> device_ids(devices.size());
  for (size_t i = 0; i < devices.size(); ++i) device_ids[i] = i;
  size_t train_tokens = 0;
  for (const auto& d : devices) train_tokens += d.train_targets();
  say(fmt("population: %zu users (%zu train / %zu test texts, %zu train tokens) from %s", devices.size(),
          population.total_train_examples(), population.total_test_examples(), train_tokens, cfg.data.path.c_str()));
  if (static_cast<size_t>(cfg.federation.cohort_size) > devices.size())
    throw ConfigError(fmt("federation.cohort_size %d exceeds the population of %zu users", cfg.federation.cohort_size,
                          devices.size()));

  // Evaluation: a fixed, seeded sample of users, on their held-out (last 20%) texts.
  const auto eval_ids = client::data::sample_eval_users(
      population, std::min<size_t>(static_cast<size_t>(cfg.federation.eval_users), population.size()),
      derive_seed(cfg.run.seed, {0xE7A1}));
  std::vector<size_t> eval_devices;
  for (const auto& id : eval_ids)
    for (size_t i = 0; i < devices.size(); ++i)
      if (devices[i].user_id == id) eval_devices.push_back(i);

  const int threads = cfg.run.threads > 0 ? cfg.run.threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  WorkerPool pool(threads);

  const auto layout = lora::make_adapter_layout(base->config, cfg.lora.rank, cfg.lora.alpha, cfg.lora.target_modules);
  const auto theta0 = lora::init_adapter_vector(layout, derive_seed(cfg.run.seed, {0xADA9}));

  auto evaluate = [&](const Eigen::VectorXf& theta, int64_t round) {
    std::vector<client::EvalMetrics> per(eval_devices.size());
    std::vector<size_t> order(eval_devices.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
      return devices[eval_devices[a]].test_targets() > devices[eval_devices[b]].test_targets();
    });
    const std::span<const float> th(theta.data(), static_cast<size_t>(theta.size()));
    pool.run(order, [&](size_t i, int) {
      per[i] = client::evaluate_adapter(base, layout, th, devices[eval_devices[i]].test, 16);
    });
    client::EvalMetrics m;
    for (const auto& p : per) m += p;  // fixed order: deterministic sums
    return EvalPoint{round, m.accuracy(), m.loss(), m.perplexity(), m.n_targets};
  };

  // Coordinator, strategy and (optionally) the coordinator's half of user-level DP.
  const bool dp = cfg.user_dp.enabled;
  const auto population_size = static_cast<int64_t>(devices.size());
  coordinator::StrategyConfig sc;
  sc.cohort_size = static_cast<size_t>(cfg.federation.cohort_size);
  sc.seed = derive_seed(cfg.run.seed, {0xC0407});
  if (dp) {
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
  const Eigen::Index d = layout.size();
  coordinator::Coordinator coord(
      layout, Eigen::Map<const Eigen::VectorXf>(theta0.data(), d),
      std::make_unique<coordinator::FedOptStrategy>(sc, d),
      coordinator::CoordinatorOptions{summary.run_dir / "checkpoint", cfg.model.base.filename().string()});
  std::optional<coordinator::UserDpServer> dp_server;
  if (dp) {
    coordinator::UserDpSettings us;
    us.mode = cfg.user_dp.mode == "distributed" ? privacy::NoiseMode::kDistributed : privacy::NoiseMode::kCentral;
    us.noise_multiplier = cfg.user_dp.noise_multiplier;
    us.l2_norm_clip = cfg.user_dp.l2_norm_clip;
    us.adaptive_clipping = cfg.user_dp.adaptive_clipping;
    us.target_quantile = cfg.user_dp.target_quantile;
    us.clip_learning_rate = cfg.user_dp.clip_learning_rate;
    us.count_noise_stddev = cfg.user_dp.count_noise_stddev;
    us.expected_cohort = cfg.federation.cohort_size;
    us.population = population_size;
    us.delta = cfg.user_dp.delta > 0 ? cfg.user_dp.delta : std::pow(static_cast<double>(population_size), -1.1);
    dp_server.emplace(us, privacy::NoiseSource::from_seed(cfg.run.seed, {0xC0DE, privacy::noise_stream::kUserUpdateNoise}));
    summary.user_delta = us.delta;
  }
  // Example-level DP-SGD: one ledger for the fleet, keyed by device id (SQLite, locked, so the
  // worker threads share it). Devices that refuse for lack of budget stop checking in.
  std::optional<privacy::PrivacyLedger> ledger;
  std::unordered_set<uint64_t> exhausted;
  double example_eps_max = 0.0;
  std::mutex stats_mu;
  if (cfg.dp_sgd.enabled) {
    fs::path lp = cfg.dp_sgd.ledger;
    if (lp.empty()) {
      lp = summary.run_dir / "privacy_ledger.sqlite";
      fs::remove(lp);  // a simulation's virtual devices start unspent
      fs::remove(lp.string() + "-wal");
      fs::remove(lp.string() + "-shm");
    }
    ledger.emplace(privacy::PrivacyLedger::open(lp));
  }
  say(fmt("adapter: LoRA r=%d alpha=%g on %zu modules x %d layers = %lld parameters; %s, %s cohort %d of %zu, %d rounds, "
          "%d worker threads%s%s",
          cfg.lora.rank, cfg.lora.alpha, cfg.lora.target_modules.size(), static_cast<int>(base->config.n_layers),
          static_cast<long long>(d), std::string(coord.strategy().name()).c_str(), dp ? "Poisson" : "fixed",
          cfg.federation.cohort_size, devices.size(), cfg.federation.rounds, threads,
          dp ? fmt(", user-level DP (%s, z=%g, S=%g%s, delta=%.3g)", cfg.user_dp.mode.c_str(), cfg.user_dp.noise_multiplier,
                   cfg.user_dp.l2_norm_clip, cfg.user_dp.adaptive_clipping ? " adaptive" : "", summary.user_delta).c_str()
             : "",
          cfg.secagg.enabled ? ", secure aggregation" : ""));

  std::ofstream metrics(summary.run_dir / "metrics.jsonl", std::ios::trunc);
  if (!metrics) throw std::runtime_error("cannot write " + (summary.run_dir / "metrics.jsonl").string());

  summary.before = evaluate(coord.theta(), 0);
  say(fmt("round %3d  base model       eval acc %.4f  ppl %.2f  (%lld tokens, %d users)", 0, summary.before.accuracy,
          summary.before.perplexity, static_cast<long long>(summary.before.tokens),
          static_cast<int>(eval_devices.size())));
  metrics << json{{"round", 0}, {"eval", eval_json(summary.before)}}.dump() << "\n";
  EvalPoint last_eval = summary.before;

  int64_t max_examples = 1;
  for (const auto& dv : devices) max_examples = std::max<int64_t>(max_examples, static_cast<int64_t>(dv.train.size()));

  for (int r = 1; r <= cfg.federation.rounds; ++r) {
    const auto t_round = std::chrono::steady_clock::now();
    if (exhausted.size() + static_cast<size_t>(cfg.federation.cohort_size) > devices.size() && !dp) {
      say(fmt("stopping after round %d: only %zu devices still have privacy budget", r - 1, devices.size() - exhausted.size()));
      break;
    }
    const auto task = coord.open_round(device_ids, exhausted);
    const size_t k = task.cohort.size();
    json line{{"round", r}, {"cohort", k}};
    coordinator::RoundRecord rec;
    ChannelResult channel;
    double loss_sum = 0;
    int64_t tok = 0;
    int rejected = 0, refused = 0;

    // SecAgg parameters for this cohort size (Poisson cohorts vary), and the DP instructions.
    std::optional<SecAggPlan> plan;
    std::string setup_error;
    if (cfg.secagg.enabled) {
      try {
        plan = plan_secagg(static_cast<uint32_t>(k), cfg.secagg);
      } catch (const ConfigError& e) {
        setup_error = e.what();
      }
    }
    if (k == 0) setup_error = "empty cohort";
    const int64_t t_min = plan ? plan->threshold : 1;
    std::optional<coordinator::DeviceDpInstructions> dpi;
    if (dp) dpi = dp_server->instructions(t_min);

    if (!setup_error.empty()) {
      rec = coord.abort_round(setup_error);
    } else {
      // Who drops out, and (SecAgg) before which protocol stage.
      CohortUploads cohort;
      cohort.uploads.resize(k);
      std::vector<bool> trains(k, true);
      if (plan) cohort.drop_stage.resize(k);
      for (size_t i = 0; i < k; ++i) {
        const uint64_t s = derive_seed(cfg.run.seed, {0xD80, static_cast<uint64_t>(r), task.cohort[i]});
        if (static_cast<double>(s >> 11) * 0x1.0p-53 >= cfg.federation.dropout_rate) continue;
        if (plan) {
          static constexpr int kStages[] = {2, 3, 5};  // before ShareKeys, MaskedInput, Unmasking
          const int stage = kStages[derive_seed(s, {1}) % 3];
          cohort.drop_stage[i] = stage;
          trains[i] = stage == 5;  // only a device that masks its input needs an update
        } else {
          trains[i] = false;
        }
      }
      std::vector<size_t> order;
      for (size_t i = 0; i < k; ++i)
        if (trains[i]) order.push_back(i);
      std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
        return devices[task.cohort[a]].train_targets() > devices[task.cohort[b]].train_targets();
      });
      client::UploadSpec spec;
      spec.weight_by_examples = !dp && cfg.server.weighting == Weighting::examples;
      if (dpi) {
        spec.user_dp = dpi->update;
        spec.report_clip_indicator = dpi->report_clip_indicator;
        spec.clip_indicator_noise_stddev = dpi->clip_indicator_noise_stddev;
      }
      std::vector<client::LocalUpdate> stats(k);
      std::vector<std::string> errors(k);
      const std::span<const float> theta(task.theta->data(), static_cast<size_t>(task.theta->size()));
      pool.run(order, [&](size_t i, int) {
        const uint64_t dev = task.cohort[i];
        auto cc = cfg.client;
        cc.fedprox_mu = task.client_config.fedprox.mu;
        cc.seed = derive_seed(cfg.run.seed, {0xC11E, static_cast<uint64_t>(r), dev});
        try {
          client::LocalUpdate u;
          if (ledger) {
            cc.dp = client::DpSgdTrainConfig{};
            cc.dp->noise_multiplier = cfg.dp_sgd.noise_multiplier;
            cc.dp->l2_norm_clip = cfg.dp_sgd.l2_norm_clip;
            cc.dp->sampling_rate = cfg.dp_sgd.sampling_rate;
            cc.dp->steps = cfg.dp_sgd.steps;
            cc.dp->per_example_loss = client::parse_per_example_loss(cfg.dp_sgd.per_example_loss);
            cc.dp->noise = client::SimulationNoise{cfg.run.seed, dev, static_cast<uint64_t>(r)};
            auto res = client::train_local_private(*ledger, {std::to_string(dev), {cfg.dp_sgd.epsilon, cfg.dp_sgd.delta}},
                                                   base, layout, theta, devices[dev].train, cc);
            std::lock_guard<std::mutex> lk(stats_mu);
            example_eps_max = std::max(example_eps_max, client::epsilon_spent(res));
            if (auto* refused = std::get_if<client::PrivateRoundRefused>(&res)) {
              (void)refused;
              exhausted.insert(dev);
              errors[i] = "refused: example-level privacy budget exhausted";
              return;
            }
            u = std::move(std::get<client::PrivateRoundTrained>(res).update);
          } else {
            u = client::train_local(base, layout, theta, devices[dev].train, cc);
          }
          auto noise = privacy::NoiseSource::from_seed(
              cfg.run.seed, {dev, static_cast<uint64_t>(r), privacy::noise_stream::kUserUpdateNoise});
          stats[i].train_loss = u.train_loss;
          stats[i].tokens = u.tokens;
          cohort.uploads[i] = client::make_upload(std::move(u.delta), u.num_examples, spec, &noise);
        } catch (const client::TrainingDiverged& e) {
          errors[i] = e.what();  // the device sends nothing this round
        } catch (const privacy::NonFiniteValueError& e) {
          errors[i] = e.what();
        }
      });
      for (size_t i = 0; i < k; ++i) {
        if (errors[i].rfind("refused", 0) == 0) {
          ++refused;
          if (plan) cohort.drop_stage[i] = 3;
          continue;
        }
        if (!errors[i].empty()) {
          ++rejected;
          say(fmt("  device %llu: update rejected: %s", static_cast<unsigned long long>(task.cohort[i]), errors[i].c_str()));
          if (plan) cohort.drop_stage[i] = 3;  // it never sends a masked input
        }
        if (cohort.uploads[i]) {
          loss_sum += stats[i].train_loss * static_cast<double>(stats[i].tokens);
          tok += stats[i].tokens;
        }
      }

      const size_t length = static_cast<size_t>(d) + (spec.report_clip_indicator ? 1 : 0);
      if (plan) {
        double c = cfg.secagg.clip_range;
        if (c <= 0 && dpi) {
          // Each coordinate of a clipped update is within ±S; device noise adds ~N(0, (zS/√t)²).
          const auto& ud = dpi->update;
          const double sd = ud.mode == privacy::NoiseMode::kDistributed
                                ? privacy::per_device_noise_stddev(ud.noise_multiplier, ud.l2_norm_clip, ud.min_contributors)
                                : 0.0;
          c = std::max(ud.l2_norm_clip + 6.0 * sd, 0.5 + 6.0 * dpi->clip_indicator_noise_stddev);
        } else if (c <= 0) {
          c = 8.0;
        }
        channel = secure_sum(cohort, length, spec.weight_by_examples, static_cast<double>(max_examples), c, cfg.secagg,
                             *plan, static_cast<uint64_t>(r), derive_seed(cfg.run.seed, {0x5EC}));
      } else {
        channel = plain_sum(cohort, length);
      }

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
        std::optional<double> indicator;
        if (spec.report_clip_indicator) indicator = channel.value_sum[d];
        std::string dp_error;
        if (dp) {
          try {
            const auto eps = dp_server->finalize(agg, t_min, indicator);
            line["user_epsilon"] = eps.epsilon;
            line["user_delta"] = summary.user_delta;
          } catch (const privacy::PrivacyError& e) {
            dp_error = e.what();
          }
        }
        rec = dp_error.empty() ? coord.close_round(agg) : coord.abort_round(dp_error);
      }
    }

    summary.bytes_up += channel.bytes_up;
    summary.bytes_down += channel.bytes_down;
    if (rec.aborted) ++summary.rounds_aborted;
    else ++summary.rounds_completed;
    line["contributors"] = channel.contributors;
    line["rejected_updates"] = rejected;
    if (ledger) {
      line["refused_devices"] = refused;
      line["example_epsilon_max"] = example_eps_max;
      line["devices_out_of_budget"] = exhausted.size();
    }
    line["aborted"] = rec.aborted;
    line["train_loss"] = tok ? loss_sum / static_cast<double>(tok) : 0.0;
    line["train_tokens"] = tok;
    line["update_norm"] = rec.outcome.pseudo_gradient_l2_norm;
    line["bytes_up"] = channel.bytes_up;
    line["bytes_down"] = channel.bytes_down;
    if (rec.aborted) line["abort_reason"] = rec.abort_reason;
    if (dp) {
      line["clip_norm"] = dp_server->clip_norm();
      if (!line.contains("user_epsilon")) line["user_epsilon"] = dp_server->epsilon().epsilon;
    }
    if (plan)
      line["secagg"] = json{{"n", plan->n},          {"degree", plan->degree},
                            {"threshold", plan->threshold}, {"graph", plan->harary ? "harary" : "complete"},
                            {"client_cpu_s", channel.client_cpu_s}, {"server_cpu_s", channel.server_cpu_s},
                            {"clipped_values", channel.clipped_values}};
    std::string eval_str;
    if (r % cfg.federation.eval_every == 0 || r == cfg.federation.rounds) {
      last_eval = evaluate(coord.theta(), r);
      line["eval"] = eval_json(last_eval);
      eval_str = fmt("  eval acc %.4f  ppl %.2f", last_eval.accuracy, last_eval.perplexity);
    }
    const double round_s = seconds_since(t_round);
    line["wall_s"] = round_s;
    metrics << line.dump() << "\n";
    metrics.flush();
    std::string eps_str = dp ? fmt("  eps %.3f", line["user_epsilon"].get<double>()) : "";
    if (ledger) eps_str += fmt("  ex-eps %.2f", example_eps_max);
    say(fmt("round %3d/%d  n %2zu  train loss %.4f%s%s  %5.1f s  up %.1f MB%s", r, cfg.federation.rounds, k,
            tok ? loss_sum / static_cast<double>(tok) : 0.0, eval_str.c_str(), eps_str.c_str(), round_s,
            static_cast<double>(channel.bytes_up) / 1e6, rec.aborted ? ("  ABORTED: " + rec.abort_reason).c_str() : ""));
  }
  const auto last_round = static_cast<int64_t>(coord.next_round()) - 1;
  if (last_eval.round != last_round) last_eval = evaluate(coord.theta(), last_round);
  summary.after = last_eval;
  if (dp) summary.user_epsilon = dp_server->epsilon().epsilon;

  lora::save_adapter(summary.run_dir / "adapter", layout,
                     std::span<const float>(coord.theta().data(), static_cast<size_t>(d)),
                     cfg.model.base.filename().string(),
                     {{"fedlora.rounds", std::to_string(cfg.federation.rounds)}, {"fedlora.seed", std::to_string(cfg.run.seed)}});
  summary.wall_s = seconds_since(t0);
  summary.peak_rss_bytes = lora::peak_rss_bytes();

  json conf = json::object();
  for (const auto& [k, v] : describe(cfg)) conf[k] = v;
  json s{{"config", conf},
         {"seed", cfg.run.seed},
         {"population", devices.size()},
         {"eval_users", eval_devices.size()},
         {"adapter_parameters", d},
         {"base_resident_bytes", base->resident_bytes()},
         {"before", eval_json(summary.before)},
         {"after", eval_json(summary.after)},
         {"accuracy_gain", summary.after.accuracy - summary.before.accuracy},
         {"user_epsilon", dp ? json(dp_server->epsilon().epsilon) : json(nullptr)},
         {"example_epsilon_max", ledger ? json(example_eps_max) : json(nullptr)},
         {"example_delta", ledger ? json(cfg.dp_sgd.delta) : json(nullptr)},
         {"user_delta", dp ? json(summary.user_delta) : json(nullptr)},
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
