#include "simulator/run/centralized_run.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "client/train/local_trainer.h"
#include "coordinator/protocol/seeds.h"
#include "lora/model/runtime.h"
#include "simulator/run/metrics_log.h"
#include "simulator/run/personalization.h"
#include "simulator/run/round_metrics.h"
#include "simulator/run/run_checkpoint.h"
#include "simulator/run/sim_setup.h"

namespace fedlora::sim {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr std::uint64_t kPoolTag = 0xCE47;  // seed path: (run seed, tag, round, pass)


// The round's windows: whole seeded permutations of the pool, then a prefix of one more.
std::vector<lora::TokenSeq> draw_round(const std::vector<const lora::TokenSeq*>& pool, std::int64_t count,
                                       std::uint64_t run_seed, int round) {
  std::vector<lora::TokenSeq> out;
  out.reserve(static_cast<std::size_t>(count));
  for (std::uint64_t pass = 0; static_cast<std::int64_t>(out.size()) < count; ++pass) {
    const auto perm = client::seeded_permutation(
        pool.size(), protocol::derive_seed(run_seed, {kPoolTag, static_cast<std::uint64_t>(round), pass}));
    for (std::size_t i = 0; i < perm.size() && static_cast<std::int64_t>(out.size()) < count; ++i)
      out.push_back(*pool[perm[i]]);
  }
  return out;
}

}  // namespace

std::int64_t local_examples(std::int64_t n, int epochs, int batch_size, int max_steps) {
  if (epochs < 1 || batch_size < 1 || n < 0 || max_steps < 0)
    throw std::invalid_argument("local_examples: need epochs, batch_size >= 1 and n, max_steps >= 0");
  if (n == 0) return 0;
  const std::int64_t per_epoch = (n + batch_size - 1) / batch_size;
  if (max_steps == 0 || max_steps >= per_epoch * epochs) return n * epochs;
  // Only an epoch's last batch is short, and a capped tail never reaches it.
  return (max_steps / per_epoch) * n + (max_steps % per_epoch) * batch_size;
}

std::int64_t centralized_examples_per_round(std::span<const std::int64_t> train_examples, int cohort_size, int epochs,
                                            int batch_size, int max_steps) {
  if (train_examples.empty()) throw std::invalid_argument("centralized_examples_per_round: no users");
  if (cohort_size < 1) throw std::invalid_argument("centralized_examples_per_round: cohort_size must be >= 1");
  double sum = 0.0;
  for (std::int64_t n : train_examples) sum += static_cast<double>(local_examples(n, epochs, batch_size, max_steps));
  return std::llround(static_cast<double>(cohort_size) * sum / static_cast<double>(train_examples.size()));
}

SimulationSummary run_centralized(const SimConfig& cfg, const ProgressFn& progress, const RunOptions& options) {
  if (cfg.federation.mode != "centralized")
    throw ConfigError("run_centralized: federation.mode is '" + cfg.federation.mode + "', not centralized");
  if (options.resume)
    throw ResumeError("--resume is not supported for federation.mode = \"centralized\" (it writes no checkpoints); "
                      "start the run again without --resume");
  const auto t0 = std::chrono::steady_clock::now();
  lora::keep_freed_memory_in_heap();
  auto say = [&](const std::string& s) {
    if (progress) progress(s);
  };
  SimulationSummary summary;
  summary.run_dir = cfg.run.output_dir / cfg.run.name;
  fs::create_directories(summary.run_dir);
  clear_run_checkpoints(summary.run_dir);  // a federated run's leftovers must not be resumed

  const SimSetup setup = set_up_simulation(cfg, progress);
  const auto& base = setup.base;
  const auto& layout = *setup.layout;
  const Fleet& fleet = *setup.fleet;
  const int threads = worker_threads(cfg);
  WorkerPool pool(threads);  // evaluation and personalisation; training runs on this thread

  // The pooled data: every device's windows, held for the whole run.
  std::vector<std::shared_ptr<const client::UserExamples>> held;
  std::vector<const lora::TokenSeq*> pooled;
  std::vector<std::int64_t> per_user;
  for (std::size_t id = 0; id < fleet.size(); ++id) {
    const auto& dev = *held.emplace_back(fleet.examples(id));
    per_user.push_back(static_cast<std::int64_t>(dev.train.size()));
    for (const auto& w : dev.train) pooled.push_back(&w);
  }
  if (pooled.empty()) throw std::runtime_error("centralized run: the population has no training windows");
  const auto& c = cfg.client;
  const std::int64_t per_round =
      centralized_examples_per_round(per_user, cfg.federation.cohort_size, c.epochs, c.batch_size, c.max_steps);
  if (per_round < 1) throw std::runtime_error("centralized run: a cohort processes no examples per round");
  summary.centralized = json{{"examples_per_round", per_round},
                             {"steps_per_round", (per_round + c.batch_size - 1) / c.batch_size},
                             {"pooled_examples", pooled.size()}};
  say(std::string("centralized baseline: ") + std::to_string(per_round) + " of " + std::to_string(pooled.size()) +
      " pooled training windows per round (a cohort of " + std::to_string(cfg.federation.cohort_size) +
      " in expectation), " + std::to_string(cfg.federation.rounds) + " rounds, 1 training thread");

  Eigen::VectorXf theta = Eigen::Map<const Eigen::VectorXf>(setup.theta0.data(), layout.size());
  const auto eval = [&](std::int64_t round) {
    return evaluate_global(pool, base, layout, theta, fleet, round, eval_options(cfg, setup));
  };
  MetricsLog metrics(summary.run_dir / "metrics.jsonl", true);
  summary.before = eval(0);
  EvalPoint last = summary.before;
  metrics.append(json{{"round", 0}, {"eval", eval_json(summary.before)}}.dump());
  char buf[512];
  std::snprintf(buf, sizeof buf, "round %3d  base model       eval acc %.4f  ppl %.2f  (%lld tokens, %zu users)", 0,
                last.accuracy, last.perplexity, static_cast<long long>(last.tokens), fleet.eval_devices.size());
  say(buf);

  for (int r = 1; r <= cfg.federation.rounds; ++r) {
    const auto t_round = std::chrono::steady_clock::now();
    const auto examples = draw_round(pooled, per_round, cfg.run.seed, r);
    auto train = client_train_config(cfg, protocol::derive_seed(cfg.run.seed, {kPoolTag, static_cast<std::uint64_t>(r)}));
    train.epochs = 1;     // the draw already holds the cohort's epochs
    train.max_steps = 0;  // and its step caps
    const auto up = client::train_local(base, layout, std::span<const float>(theta.data(), theta.size()), examples, train);
    const Eigen::Map<const Eigen::VectorXf> delta(up.delta.data(), static_cast<Eigen::Index>(up.delta.size()));
    theta += delta;
    json line{{"round", r},           {"mode", "centralized"}, {"cohort", 1},         {"contributors", 1},
              {"aborted", false},     {"update_norm", delta.cast<double>().norm()},
              {"bytes_up", 0},        {"bytes_down", 0},       {"dropped", 0},        {"rejected_updates", 0},
              {"train_loss", up.train_loss}, {"train_tokens", up.tokens}, {"examples", per_round}, {"steps", up.steps}};
    std::string eval_str;
    if (evaluation_due(cfg, r)) {
      last = eval(r);
      line["eval"] = eval_json(last);
      std::snprintf(buf, sizeof buf, "  eval acc %.4f  ppl %.2f", last.accuracy, last.perplexity);
      eval_str = buf;
    }
    const double round_s = seconds_since(t_round);
    line["wall_s"] = round_s;
    metrics.append(line.dump());
    ++summary.rounds_completed;
    std::snprintf(buf, sizeof buf, "round %3d/%d  %lld examples  train loss %.4f%s  %5.1f s", r, cfg.federation.rounds,
                  static_cast<long long>(per_round), up.train_loss, eval_str.c_str(), round_s);
    say(buf);
  }
  summary.after = last;
  const std::span<const float> final_theta(theta.data(), static_cast<std::size_t>(theta.size()));
  summary.personalization = run_personalization(cfg, setup, pool, final_theta, summary.run_dir, progress);
  write_run_outputs(cfg, setup, final_theta, cfg.federation.rounds, threads, -1.0, summary, seconds_since(t0));
  return summary;
}

}  // namespace fedlora::sim
