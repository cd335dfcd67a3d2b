#include "simulator/config/sim_config.h"

#include <climits>
#include <cmath>

namespace fedlora::sim {
namespace {

int to_int(TomlReader& r, const char* s, const char* k, int def) {
  const int64_t v = r.get_int(s, k, def);
  if (v < INT32_MIN || v > INT32_MAX) throw ConfigError(r.source() + ": " + s + "." + k + " is out of range");
  return static_cast<int>(v);
}

// The centralized baseline pools the data on one trainer: the server optimizer, DP, SecAgg,
// dropouts and device memory budgets have no meaning there, and silently ignoring them would
// make a baseline look like something it is not.
void validate_centralized(const SimConfig& c) {
  auto refuse = [](const std::string& key, const std::string& why) {
    throw ConfigError("config: federation.mode = \"centralized\" cannot be combined with " + key + " (" + why +
                      "); turn it off or use federation.mode = \"federated\"");
  };
  if (c.user_dp.enabled) refuse("user_dp.enabled = true", "user-level DP needs per-user updates");
  if (c.dp_sgd.enabled) refuse("dp_sgd.enabled = true", "example-level DP-SGD runs on devices");
  if (c.secagg.enabled) refuse("secagg.enabled = true", "there is no aggregate to protect");
  if (c.server.optimizer.name != "fedavg")
    refuse("server.strategy = \"" + c.server.optimizer.name + "\"", "theta <- theta + delta, no server optimizer");
  if (c.server.optimizer.server_lr && *c.server.optimizer.server_lr != 1.0)
    refuse("server.server_lr = " + config::format_number(*c.server.optimizer.server_lr), "theta <- theta + delta");
  if (c.federation.dropout_rate > 0) refuse("federation.dropout_rate > 0", "no devices drop out");
  if (c.memory_budget_mb > 0) refuse("client.memory_budget_mb > 0", "a device-side setting");
}

// data.format = "partition" draws its users itself: the keys of per-user corpora do not apply.
void validate_partition(const DataSection& d) {
  auto bad = [](const std::string& what) { throw ConfigError("config: " + what); };
  if (d.users < 1) bad("data.users must be >= 1 with data.format = \"partition\" (the number of synthetic users)");
  if (!(d.alpha > 0) || !std::isfinite(d.alpha))
    bad("data.alpha must be a finite number > 0 (Dirichlet concentration; small = skewed, large = IID)");
  if (d.examples_per_user < 2) bad("data.examples_per_user must be >= 2 (a user needs train and test chunks)");
  if (d.chunk_bytes < 16) bad("data.chunk_bytes must be >= 16");
  if (d.prior != "size" && d.prior != "uniform") bad("data.prior '" + d.prior + "': use size or uniform");
  if (d.max_users != 0) bad("data.max_users does not apply to data.format = \"partition\"; set data.users");
}

}  // namespace

SimConfig load_sim_config(const std::filesystem::path& path, const std::vector<std::string>& overrides,
                          const std::string& name_override) {
  if (!std::filesystem::exists(path)) throw ConfigError("config file " + path.string() + " does not exist");
  TomlReader r = TomlReader::from_file(path);
  for (const auto& o : overrides) r.apply_override(o);
  SimConfig c;
  c.run.seed = static_cast<uint64_t>(r.get_int("run", "seed", static_cast<int64_t>(c.run.seed)));
  c.run.name = r.get_string("run", "name", c.run.name);
  if (!name_override.empty()) c.run.name = name_override;
  c.run.output_dir = r.get_string("run", "output_dir", c.run.output_dir.string());
  c.run.threads = to_int(r, "run", "threads", c.run.threads);
  c.run.reproducible_noise = r.get_bool("run", "reproducible_noise", c.run.reproducible_noise);

  const std::string fmt = r.get_string("data", "format", "shakespeare");
  if (fmt == "shakespeare") c.data.format = DataFormat::shakespeare;
  else if (fmt == "directory") c.data.format = DataFormat::directory;
  else if (fmt == "jsonl") c.data.format = DataFormat::jsonl;
  else if (fmt == "partition") c.data.format = DataFormat::partition;
  else throw ConfigError(r.source() + ": data.format '" + fmt + "': use shakespeare, directory, jsonl or partition");
  c.data.path = r.get_string("data", "path", c.data.path.string());
  c.data.min_examples = to_int(r, "data", "min_examples", c.data.min_examples);
  c.data.train_percent = to_int(r, "data", "train_percent", c.data.train_percent);
  c.data.max_users = to_int(r, "data", "max_users", c.data.max_users);
  c.data.users = to_int(r, "data", "users", c.data.users);
  c.data.alpha = r.get_double("data", "alpha", c.data.alpha);
  c.data.examples_per_user = to_int(r, "data", "examples_per_user", c.data.examples_per_user);
  c.data.chunk_bytes = to_int(r, "data", "chunk_bytes", c.data.chunk_bytes);
  c.data.prior = r.get_string("data", "prior", c.data.prior);

  config::read_job_sections(r, c);
  // Simulator-only keys of the shared sections.
  c.federation.eval_every = to_int(r, "federation", "eval_every", c.federation.eval_every);
  c.federation.eval_users = to_int(r, "federation", "eval_users", c.federation.eval_users);
  c.federation.eval_next_words = to_int(r, "federation", "eval_next_words", c.federation.eval_next_words);
  c.federation.dropout_rate = r.get_double("federation", "dropout_rate", c.federation.dropout_rate);
  c.federation.mode = r.get_string("federation", "mode", c.federation.mode);
  c.federation.personalize_steps = to_int(r, "federation", "personalize_steps", c.federation.personalize_steps);
  c.federation.over_selection = r.get_double("federation", "over_selection", c.federation.over_selection);
  c.fleet = read_fleet_section(r);
  c.async.mode = r.get_string("server", "mode", c.async.mode);
  c.async.concurrency = to_int(r, "server", "concurrency", c.async.concurrency);
  c.async.buffer_size = to_int(r, "server", "buffer_size", c.async.buffer_size);
  c.dp_sgd.epsilon = r.get_double("dp_sgd", "epsilon", c.dp_sgd.epsilon);
  c.dp_sgd.delta = r.get_double("dp_sgd", "delta", c.dp_sgd.delta);
  c.dp_sgd.ledger = r.get_string("dp_sgd", "ledger", c.dp_sgd.ledger);
  c.memory_budget_mb = r.get_double("client", "memory_budget_mb", c.memory_budget_mb);
  {
    const std::string g = r.get_string("client", "base_matmul", "fp32");
    try {
      c.base_matmul = lora::parse_base_gemm(g);
    } catch (const std::invalid_argument&) {
      throw ConfigError(r.source() + ": client.base_matmul '" + g + "': use fp32 or int8");
    }
  }

  r.reject_unknown_keys();
  c.validate();
  c.source_path = path;
  c.source_overrides = overrides;
  if (!name_override.empty()) c.source_overrides.push_back("run.name=\"" + name_override + "\"");
  return c;
}

void SimConfig::validate() const {
  auto bad = [](const std::string& what) { throw ConfigError("config: " + what); };
  if (run.name.empty() || run.name.find('/') != std::string::npos) bad("run.name must be a non-empty folder name");
  if (run.threads < 0) bad("run.threads must be >= 0 (0 = one per core)");
  if (data.min_examples < 2) bad("data.min_examples must be >= 2 (a user needs train and test examples)");
  if (data.train_percent < 1 || data.train_percent > 99) bad("data.train_percent must be in [1, 99]");
  if (data.max_users < 0) bad("data.max_users must be >= 0 (0 = all)");
  if (data.format == DataFormat::partition) validate_partition(data);
  else if (data.users != 0) bad("data.users applies to data.format = \"partition\" only");
  if (federation.eval_every < 1) bad("federation.eval_every must be >= 1");
  if (federation.eval_users < 1) bad("federation.eval_users must be >= 1");
  if (federation.eval_next_words < 0) bad("federation.eval_next_words must be >= 0 (0 = no next-word evaluation)");
  if (!(federation.dropout_rate >= 0 && federation.dropout_rate < 1)) bad("federation.dropout_rate must be in [0, 1)");
  if (federation.mode != "federated" && federation.mode != "centralized")
    bad("federation.mode '" + federation.mode + "': use federated or centralized");
  if (federation.personalize_steps < 0) bad("federation.personalize_steps must be >= 0 (0 = no personalisation)");
  if (!(federation.over_selection >= 1.0 && federation.over_selection <= 10.0))
    bad("federation.over_selection must be in [1, 10] (select ceil(K * it) devices, close at K reports)");
  if (user_dp.enabled && federation.over_selection != 1.0)
    bad("federation.over_selection must be 1 with user_dp: closing at the first K reports would change the Poisson "
        "sampling the privacy accounting assumes");
  fleet.validate();
  if (async.mode != "sync" && async.mode != "fedbuff") bad("server.mode '" + async.mode + "': use sync or fedbuff");
  if (async.concurrency < 1) bad("server.concurrency must be >= 1 (devices training at once)");
  if (async.buffer_size < 1) bad("server.buffer_size must be >= 1 (arrivals per server step)");
  if (async.mode == "fedbuff") {
    auto refuse = [&](const std::string& key, const std::string& why) {
      bad("server.mode = \"fedbuff\" cannot be combined with " + key + " (" + why + ")");
    };
    if (secagg.enabled) refuse("secagg.enabled = true", "SecAgg+ sums a synchronous cohort; buffered asynchronous SecAgg is not implemented");
    if (user_dp.enabled) refuse("user_dp.enabled = true", "the user-level accountant assumes synchronous Poisson-sampled rounds");
    if (dp_sgd.enabled) refuse("dp_sgd.enabled = true", "the asynchronous path trains without the device privacy ledger");
    if (federation.over_selection != 1.0) refuse("federation.over_selection", "there are no rounds to over-select for");
    if (fleet.round_deadline_s > 0) refuse("fleet.round_deadline_s", "there are no rounds to close");
    if (federation.dropout_rate > 0) refuse("federation.dropout_rate", "devices leave when their eligible session ends");
    if (federation.mode == "centralized") refuse("federation.mode = \"centralized\"", "no devices");
    if (async.buffer_size > async.concurrency) bad("server.buffer_size must be <= server.concurrency");
  }
  if (user_dp.enabled && fleet.availability != Availability::always)
    bad("user_dp with fleet.availability = \"" + std::string(fleet.availability == Availability::diurnal ? "diurnal" : "trace") +
        "\": the Poisson-sampling accounting assumes every device can be sampled in every round; use \"always\"");
  if (federation.mode == "centralized") validate_centralized(*this);
  if (!(memory_budget_mb >= 0) || !std::isfinite(memory_budget_mb))
    bad("client.memory_budget_mb must be a finite number >= 0 (0 = no budget)");
  JobConfig::validate();
}

std::vector<std::pair<std::string, std::string>> describe(const SimConfig& c) {
  std::vector<std::pair<std::string, std::string>> d;
  d.emplace_back("run.seed", std::to_string(c.run.seed));
  d.emplace_back("run.name", c.run.name);
  d.emplace_back("run.threads", std::to_string(c.run.threads));
  d.emplace_back("run.reproducible_noise", c.run.reproducible_noise ? "true" : "false");
  d.emplace_back("data.format", c.data.format == DataFormat::shakespeare ? "shakespeare"
                                : c.data.format == DataFormat::directory ? "directory"
                                : c.data.format == DataFormat::jsonl     ? "jsonl" : "partition");
  d.emplace_back("data.path", c.data.path.string());
  d.emplace_back("data.min_examples", std::to_string(c.data.min_examples));
  d.emplace_back("data.train_percent", std::to_string(c.data.train_percent));
  d.emplace_back("data.max_users", std::to_string(c.data.max_users));
  if (c.data.format == DataFormat::partition) {  // only then, so other runs' fingerprints are unchanged
    d.emplace_back("data.users", std::to_string(c.data.users));
    d.emplace_back("data.alpha", config::format_number(c.data.alpha));
    d.emplace_back("data.examples_per_user", std::to_string(c.data.examples_per_user));
    d.emplace_back("data.chunk_bytes", std::to_string(c.data.chunk_bytes));
    d.emplace_back("data.prior", c.data.prior);
  }
  for (auto& kv : config::describe_job(c)) d.push_back(std::move(kv));
  d.emplace_back("federation.eval_every", std::to_string(c.federation.eval_every));
  d.emplace_back("federation.eval_users", std::to_string(c.federation.eval_users));
  d.emplace_back("federation.eval_next_words", std::to_string(c.federation.eval_next_words));
  d.emplace_back("federation.dropout_rate", config::format_number(c.federation.dropout_rate));
  d.emplace_back("federation.mode", c.federation.mode);
  d.emplace_back("federation.personalize_steps", std::to_string(c.federation.personalize_steps));
  d.emplace_back("federation.over_selection", config::format_number(c.federation.over_selection));
  d.emplace_back("server.mode", c.async.mode);
  d.emplace_back("server.concurrency", std::to_string(c.async.concurrency));
  d.emplace_back("server.buffer_size", std::to_string(c.async.buffer_size));
  for (auto& kv : describe_fleet(c.fleet)) d.push_back(std::move(kv));
  d.emplace_back("client.memory_budget_mb", config::format_number(c.memory_budget_mb));
  d.emplace_back("client.base_matmul", lora::to_string(c.base_matmul));
  return d;
}

}  // namespace fedlora::sim
