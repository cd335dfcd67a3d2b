#include "simulator/run/sim_setup.h"

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <thread>

#include "coordinator/protocol/seeds.h"
#include "coordinator/round/job_setup.h"
#include "lora/adapter/adapter_init.h"
#include "lora/adapter/adapter_io.h"
#include "lora/export/adapter_for_base.h"
#include "lora/format/gguf_reader.h"
#include "lora/model/llama_config.h"
#include "lora/model/runtime.h"
#include "lora/tokenizer/text_codec.h"
#include "simulator/run/round_metrics.h"

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
}  // namespace

std::unique_ptr<FleetClock> make_fleet_clock(const SimConfig& cfg, const SimSetup& setup) {
  const auto& base = *setup.base;
  const auto d = static_cast<double>(setup.layout->size());
  const auto up_dim = static_cast<double>(coordinator::update_dimension(cfg, *setup.layout));
  return std::make_unique<FleetClock>(
      cfg, setup.fleet->size(),
      TrainShape{base.config, cfg.lora.target_modules, cfg.lora.rank, base.config.context_length, cfg.client.batch_size},
      d * sizeof(float), up_dim * sizeof(float) + sizeof(double),
      cfg.secagg.enabled ? (up_dim + 1) * (cfg.secagg.word_bits / 8) : 0.0);
}

VirtualFleet make_virtual_fleet(const SimConfig& cfg, const SimSetup& setup, const protocol::Sha256Digest& base_sha256,
                                privacy::PrivacyLedger* ledger, const FleetClock& clock) {
  VirtualFleet vf{.fleet = *setup.fleet,
                  .base = setup.base,
                  .base_model_sha256 = base_sha256,
                  .ledger = ledger,
                  .dp_budget = std::nullopt,
                  .research_seed = std::nullopt,
                  .identities = {},
                  .secagg_policy = {},
                  .memory_budget_mb = std::nullopt,
                  .base_gemm = cfg.base_matmul,
                  .profiles = nullptr};
  if (!cfg.private_run()) vf.research_seed = cfg.run.seed;
  if (ledger) vf.dp_budget = privacy::PrivacyBudget{cfg.dp_sgd.epsilon, cfg.dp_sgd.delta};
  if (cfg.memory_budget_mb > 0) vf.memory_budget_mb = cfg.memory_budget_mb;
  if (cfg.secagg.enabled) {
    vf.identities = virtual_identities(setup.fleet->size(), vf.research_seed);
    vf.secagg_policy = virtual_device_policy(cfg.secagg);
  }
  vf.profiles = &clock.profiles;
  return vf;
}

int worker_threads(const SimConfig& cfg) {
  return cfg.run.threads > 0 ? cfg.run.threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

client::LocalTrainConfig client_train_config(const SimConfig& cfg, std::uint64_t seed) {
  client::LocalTrainConfig c;
  c.epochs = cfg.client.epochs;
  c.batch_size = cfg.client.batch_size;
  c.lr = cfg.client.lr;
  c.optimizer = cfg.client.optimizer == protocol::LocalOptimizerKind::kSgd ? client::LocalOptimizer::sgd
                                                                            : client::LocalOptimizer::adam;
  c.max_steps = cfg.client.max_steps;
  c.fedprox_mu = cfg.client.fedprox_mu;
  c.seed = seed;
  c.base_gemm = cfg.base_matmul;
  return c;
}

SimSetup set_up_simulation(const SimConfig& cfg, const ProgressFn& progress) {
  auto say = [&](const std::string& s) {
    if (progress) progress(s);
  };
  SimSetup s;
  const auto model_file = lora::gguf::GgufFile::open(cfg.model.base);
  s.tokenizer = std::make_unique<lora::TextCodec>(lora::TextCodec::from_gguf(model_file));
  s.base = lora::load_base_model(cfg.model.base, cfg.model.quantize);
  say(fmt("base %s: %s, weights %s, %.2f MB resident", cfg.model.base.c_str(), s.base->config.summary().c_str(),
          weight_type_name(cfg.model.quantize).c_str(), static_cast<double>(s.base->resident_bytes()) / 1e6));
  s.fleet = std::make_unique<Fleet>(build_fleet(cfg, *s.tokenizer, s.base->config.context_length,
                                                derive_seed(cfg.run.seed, {0xDA7A}), derive_seed(cfg.run.seed, {0xE7A1})));
  say(fmt("population: %zu users (%zu train / %zu test texts, %zu train tokens) from %s; idle devices hold %.0f bytes "
          "each, %.2f MB shared", s.fleet->size(), s.fleet->train_texts, s.fleet->test_texts, s.fleet->train_tokens,
          cfg.data.path.c_str(), static_cast<double>(s.fleet->device_metadata_bytes()) / static_cast<double>(s.fleet->size()),
          static_cast<double>(s.fleet->shared_bytes()) / 1e6));
  s.layout = std::make_unique<lora::AdapterLayout>(
      lora::make_adapter_layout(s.base->config, cfg.lora.rank, cfg.lora.alpha, cfg.lora.target_modules));
  s.theta0 = lora::init_adapter_vector(*s.layout, derive_seed(cfg.run.seed, {0xADA9}));
  return s;
}

EvalOptions eval_options(const SimConfig& cfg, const SimSetup& setup) {
  return EvalOptions{&setup.tokenizer->words(), cfg.federation.eval_next_words};
}

void write_run_outputs(const SimConfig& cfg, const SimSetup& setup, std::span<const float> theta,
                       std::int64_t last_round, int threads, double example_eps_max, SimulationSummary& summary,
                       double wall_s) {
  std::map<std::string, std::string> adapter_meta{{"fedlora.rounds", std::to_string(last_round)}};
  if (!cfg.dp_enabled()) adapter_meta["fedlora.seed"] = std::to_string(cfg.run.seed);  // never the key to DP noise
  // PEFT rows in the order of the base's own family: rotate_half for a base imported from HF.
  auto base_info = lora::describe_base(lora::gguf::GgufFile::open(cfg.model.base));
  base_info.name = cfg.model.base.filename().string();
  lora::write_peft_adapter_for_base(summary.run_dir / "adapter", *setup.layout, theta, base_info, adapter_meta);
  summary.wall_s = wall_s;
  summary.peak_rss_bytes = lora::peak_rss_bytes();

  json conf = json::object();
  for (const auto& [key, v] : describe(cfg)) conf[key] = v;
  const bool ledger = example_eps_max >= 0;
  const json s{{"config", conf},
               {"seed", cfg.run.seed},
               {"private", cfg.private_run()},
               {"population", setup.fleet->size()},
               {"eval_users", setup.fleet->eval_devices.size()},
               {"adapter_parameters", setup.layout->size()},
               {"base_resident_bytes", setup.base->resident_bytes()},
               {"before", eval_json(summary.before)},
               {"after", eval_json(summary.after)},
               {"accuracy_gain", summary.after.accuracy - summary.before.accuracy},
               {"user_dp", summary.user_dp},
               {"centralized", summary.centralized},
               {"personalization", summary.personalization},
               {"example_epsilon_max", ledger && cfg.private_run() ? json(example_eps_max) : json(nullptr)},
               {"example_delta", ledger ? json(cfg.dp_sgd.delta) : json(nullptr)},
               {"rounds_completed", summary.rounds_completed},
               {"rounds_aborted", summary.rounds_aborted},
               {"bytes_up", summary.bytes_up},
               {"bytes_down", summary.bytes_down},
               {"wall_s", summary.wall_s},
               {"simulated_time", summary.simulated_time},
               {"peak_rss_bytes", summary.peak_rss_bytes},
               {"threads", threads}};
  std::ofstream(summary.run_dir / "summary.json") << s.dump(2) << "\n";
}

}  // namespace fedlora::sim
