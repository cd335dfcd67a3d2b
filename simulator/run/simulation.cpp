#include "simulator/run/simulation.h"

#include <algorithm>
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
#include "lora/format/gguf_reader.h"
#include "lora/model/base_model.h"
#include "lora/model/lora_model.h"
#include "lora/model/runtime.h"
#include "lora/tokenizer/gguf_vocab.h"
#include "simulator/fleet/worker_pool.h"

namespace fedlora::sim {
namespace fs = std::filesystem;
using nlohmann::json;

uint64_t derive_seed(uint64_t run_seed, std::initializer_list<uint64_t> path) {
  auto mix = [](uint64_t z) {
    z += 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  };
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

  // Coordinator and strategy.
  coordinator::StrategyConfig sc;
  sc.cohort_size = static_cast<size_t>(cfg.federation.cohort_size);
  sc.seed = derive_seed(cfg.run.seed, {0xC0407});
  sc.aggregation = cfg.server.weighting == Weighting::examples ? coordinator::AggregationPolicy::example_weighted()
                                                              : coordinator::AggregationPolicy::uniform();
  sc.server_optimizer = cfg.server.optimizer;
  sc.fedprox.mu = cfg.client.fedprox_mu;
  sc.min_contributors = cfg.federation.min_contributors;
  const Eigen::Index d = layout.size();
  coordinator::Coordinator coord(
      layout, Eigen::Map<const Eigen::VectorXf>(theta0.data(), d),
      std::make_unique<coordinator::FedOptStrategy>(sc, d),
      coordinator::CoordinatorOptions{summary.run_dir / "checkpoint", cfg.model.base.filename().string()});
  say(fmt("adapter: LoRA r=%d alpha=%g on %zu modules x %d layers = %lld parameters; %s, cohort %d of %zu, %d rounds, "
          "%d worker threads",
          cfg.lora.rank, cfg.lora.alpha, cfg.lora.target_modules.size(), static_cast<int>(base->config.n_layers),
          static_cast<long long>(d), std::string(coord.strategy().name()).c_str(), cfg.federation.cohort_size,
          devices.size(), cfg.federation.rounds, threads));

  std::ofstream metrics(summary.run_dir / "metrics.jsonl", std::ios::trunc);
  if (!metrics) throw std::runtime_error("cannot write " + (summary.run_dir / "metrics.jsonl").string());

  summary.before = evaluate(coord.theta(), 0);
  say(fmt("round %3d  base model       eval acc %.4f  ppl %.2f  (%lld tokens, %d users)", 0, summary.before.accuracy,
          summary.before.perplexity, static_cast<long long>(summary.before.tokens),
          static_cast<int>(eval_devices.size())));
  metrics << json{{"round", 0}, {"eval", eval_json(summary.before)}}.dump() << "\n";
  EvalPoint last_eval = summary.before;

  const int64_t update_bytes = d * static_cast<int64_t>(sizeof(float));
  for (int r = 1; r <= cfg.federation.rounds; ++r) {
    const auto t_round = std::chrono::steady_clock::now();
    const auto task = coord.open_round(device_ids);
    const size_t k = task.cohort.size();
    std::vector<std::optional<client::LocalUpdate>> updates(k);
    std::vector<bool> dropped(k, false);
    for (size_t i = 0; i < k; ++i) {
      const uint64_t s = derive_seed(cfg.run.seed, {0xD80, static_cast<uint64_t>(r), task.cohort[i]});
      dropped[i] = static_cast<double>(s >> 11) * 0x1.0p-53 < cfg.federation.dropout_rate;
    }
    std::vector<size_t> order;
    for (size_t i = 0; i < k; ++i)
      if (!dropped[i]) order.push_back(i);
    std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
      return devices[task.cohort[a]].train_targets() > devices[task.cohort[b]].train_targets();
    });
    const std::span<const float> theta(task.theta->data(), static_cast<size_t>(task.theta->size()));
    pool.run(order, [&](size_t i, int) {
      auto cc = cfg.client;
      cc.fedprox_mu = task.client_config.fedprox.mu;
      cc.seed = derive_seed(cfg.run.seed, {0xC11E, static_cast<uint64_t>(r), task.cohort[i]});
      updates[i] = client::train_local(base, layout, theta, devices[task.cohort[i]].train, cc);
    });

    // Plaintext aggregation in cohort order (deterministic floating-point sums).
    coordinator::Aggregator agg(d, static_cast<int>(k));
    double loss_sum = 0;
    int64_t tok = 0;
    for (size_t i = 0; i < k; ++i) {
      if (!updates[i]) continue;
      const auto& u = *updates[i];
      agg.add(task.cohort[i], Eigen::Map<const Eigen::VectorXf>(u.delta.data(), d),
              task.client_config.weight(u.num_examples));
      loss_sum += u.train_loss * static_cast<double>(u.tokens);
      tok += u.tokens;
    }
    const int contributors = agg.aggregate().num_contributors;
    const auto rec = contributors >= cfg.federation.min_contributors
                         ? coord.close_round(agg.aggregate())
                         : coord.abort_round(fmt("%d contributors < min_contributors %d", contributors,
                                                 cfg.federation.min_contributors));
    const int64_t bytes_up = contributors * update_bytes, bytes_down = static_cast<int64_t>(k) * update_bytes;
    summary.bytes_up += bytes_up;
    summary.bytes_down += bytes_down;
    if (rec.aborted) ++summary.rounds_aborted;
    else ++summary.rounds_completed;

    json line{{"round", r},
              {"cohort", k},
              {"contributors", contributors},
              {"aborted", rec.aborted},
              {"train_loss", tok ? loss_sum / static_cast<double>(tok) : 0.0},
              {"train_tokens", tok},
              {"update_norm", rec.outcome.pseudo_gradient_l2_norm},
              {"bytes_up", bytes_up},
              {"bytes_down", bytes_down}};
    if (rec.aborted) line["abort_reason"] = rec.abort_reason;
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
    say(fmt("round %3d/%d  train loss %.4f%s  %5.1f s  up %.1f MB%s", r, cfg.federation.rounds,
            tok ? loss_sum / static_cast<double>(tok) : 0.0, eval_str.c_str(), round_s,
            static_cast<double>(bytes_up) / 1e6, rec.aborted ? ("  ABORTED: " + rec.abort_reason).c_str() : ""));
  }
  summary.after = last_eval;

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
