#include "coordinator/config/job_config.h"

#include <climits>
#include <cmath>
#include <sstream>

#include "coordinator/strategy/errors.h"
#include "coordinator/strategy/server_optimizer_config.h"

namespace fedlora::config {

lora::GgmlType parse_weight_type(const std::string& s) {
  if (s == "f32") return lora::GgmlType::F32;
  if (s == "f16") return lora::GgmlType::F16;
  if (s == "q8_0") return lora::GgmlType::Q8_0;
  if (s == "q4_0") return lora::GgmlType::Q4_0;
  throw ConfigError("model.quantize '" + s + "': use f32, f16, q8_0 or q4_0");
}

std::string weight_type_name(lora::GgmlType t) {
  switch (t) {
    case lora::GgmlType::F32: return "f32";
    case lora::GgmlType::F16: return "f16";
    case lora::GgmlType::Q8_0: return "q8_0";
    case lora::GgmlType::Q4_0: return "q4_0";
    default: return "?";
  }
}

std::string format_number(double v) {
  std::ostringstream s;
  s.precision(10);
  s << v;
  return s.str();
}

namespace {

int to_int(TomlReader& r, const char* s, const char* k, int def) {
  const int64_t v = r.get_int(s, k, def);
  if (v < INT32_MIN || v > INT32_MAX) throw ConfigError(r.source() + ": " + s + "." + k + " is out of range");
  return static_cast<int>(v);
}

void read_optional(TomlReader& r, const char* key, std::optional<double>& out) {
  r.declare("server", key);
  if (r.has("server", key)) out = r.get_double("server", key, 0.0);
}

}  // namespace

void read_job_sections(TomlReader& r, JobConfig& c) {
  c.model.base = r.get_string("model", "base", c.model.base.string());
  c.model.quantize = parse_weight_type(r.get_string("model", "quantize", weight_type_name(c.model.quantize)));

  c.lora.rank = to_int(r, "lora", "rank", c.lora.rank);
  c.lora.alpha = static_cast<float>(r.get_double("lora", "alpha", c.lora.alpha));
  c.lora.freeze_a = r.get_bool("lora", "freeze_a", c.lora.freeze_a);
  {
    std::vector<std::string> def;
    for (auto m : c.lora.target_modules) def.emplace_back(lora::peft_module_name(m));
    c.lora.target_modules.clear();
    for (const auto& n : r.get_string_list("lora", "target_modules", def)) {
      try {
        c.lora.target_modules.push_back(lora::parse_target_module(n));
      } catch (const std::invalid_argument& e) {
        throw ConfigError(r.source() + ": lora.target_modules: " + e.what());
      }
    }
  }

  c.federation.rounds = to_int(r, "federation", "rounds", c.federation.rounds);
  c.federation.cohort_size = to_int(r, "federation", "cohort_size", c.federation.cohort_size);
  c.federation.min_contributors = to_int(r, "federation", "min_contributors", c.federation.min_contributors);

  c.client.epochs = to_int(r, "client", "epochs", c.client.epochs);
  c.client.batch_size = to_int(r, "client", "batch_size", c.client.batch_size);
  c.client.lr = r.get_double("client", "lr", c.client.lr);
  const std::string opt = r.get_string("client", "optimizer", "adam");
  if (opt == "adam") c.client.optimizer = protocol::LocalOptimizerKind::kAdam;
  else if (opt == "sgd") c.client.optimizer = protocol::LocalOptimizerKind::kSgd;
  else throw ConfigError(r.source() + ": client.optimizer '" + opt + "': use sgd or adam");
  c.client.max_steps = to_int(r, "client", "max_steps", c.client.max_steps);
  c.client.fedprox_mu = r.get_double("client", "fedprox_mu", c.client.fedprox_mu);

  c.server.optimizer.name = r.get_string("server", "strategy", "fedavg");
  read_optional(r, "server_lr", c.server.optimizer.server_lr);
  read_optional(r, "momentum", c.server.optimizer.momentum);
  read_optional(r, "beta1", c.server.optimizer.beta1);
  read_optional(r, "beta2", c.server.optimizer.beta2);
  read_optional(r, "tau", c.server.optimizer.tau);
  const std::string w = r.get_string("server", "weighting", "examples");
  if (w == "examples") c.server.weighting = UpdateWeighting::examples;
  else if (w == "uniform") c.server.weighting = UpdateWeighting::uniform;
  else throw ConfigError(r.source() + ": server.weighting '" + w + "': use examples or uniform");

  auto& ds = c.dp_sgd;
  ds.enabled = r.get_bool("dp_sgd", "enabled", ds.enabled);
  ds.noise_multiplier = r.get_double("dp_sgd", "noise_multiplier", ds.noise_multiplier);
  ds.l2_norm_clip = r.get_double("dp_sgd", "l2_norm_clip", ds.l2_norm_clip);
  ds.sampling_rate = r.get_double("dp_sgd", "sampling_rate", ds.sampling_rate);
  ds.steps = to_int(r, "dp_sgd", "steps", ds.steps);
  ds.per_example_loss = r.get_string("dp_sgd", "per_example_loss", ds.per_example_loss);

  auto& u = c.user_dp;
  u.enabled = r.get_bool("user_dp", "enabled", u.enabled);
  u.mechanism = r.get_string("user_dp", "mechanism", u.mechanism);
  u.max_participations = to_int(r, "user_dp", "max_participations", u.max_participations);
  u.min_survivors = to_int(r, "user_dp", "min_survivors", u.min_survivors);
  u.restart_every = to_int(r, "user_dp", "restart_every", u.restart_every);
  u.mode = r.get_string("user_dp", "mode", u.mode);
  u.noise_multiplier = r.get_double("user_dp", "noise_multiplier", u.noise_multiplier);
  u.l2_norm_clip = r.get_double("user_dp", "l2_norm_clip", u.l2_norm_clip);
  u.adaptive_clipping = r.get_bool("user_dp", "adaptive_clipping", u.adaptive_clipping);
  u.target_quantile = r.get_double("user_dp", "target_quantile", u.target_quantile);
  u.clip_learning_rate = r.get_double("user_dp", "clip_learning_rate", u.clip_learning_rate);
  u.count_noise_stddev = r.get_double("user_dp", "count_noise_stddev", u.count_noise_stddev);
  u.delta = r.get_double("user_dp", "delta", u.delta);

  auto& sa = c.secagg;
  sa.enabled = r.get_bool("secagg", "enabled", sa.enabled);
  sa.graph = r.get_string("secagg", "graph", sa.graph);
  sa.degree = to_int(r, "secagg", "degree", sa.degree);
  sa.threshold = to_int(r, "secagg", "threshold", sa.threshold);
  sa.corrupt_fraction = r.get_double("secagg", "corrupt_fraction", sa.corrupt_fraction);
  sa.dropout_fraction = r.get_double("secagg", "dropout_fraction", sa.dropout_fraction);
  sa.clip_range = r.get_double("secagg", "clip_range", sa.clip_range);
  sa.bits = to_int(r, "secagg", "bits", sa.bits);
  sa.word_bits = to_int(r, "secagg", "word_bits", sa.word_bits);
  sa.consistency_check = r.get_bool("secagg", "consistency_check", sa.consistency_check);
  sa.graph_seed_work = to_int(r, "secagg", "graph_seed_work", sa.graph_seed_work);
}

std::string write_job_toml(const JobConfig& c) {
  toml::table t;
  auto section = [&](const char* name) -> toml::table& {
    t.insert_or_assign(name, toml::table{});
    return *t[name].as_table();
  };
  auto& model = section("model");
  model.insert_or_assign("base", c.model.base.string());
  model.insert_or_assign("quantize", weight_type_name(c.model.quantize));
  auto& l = section("lora");
  l.insert_or_assign("rank", c.lora.rank);
  l.insert_or_assign("alpha", static_cast<double>(c.lora.alpha));
  toml::array targets;
  for (auto m : c.lora.target_modules) targets.push_back(std::string(lora::peft_module_name(m)));
  l.insert_or_assign("target_modules", targets);
  l.insert_or_assign("freeze_a", c.lora.freeze_a);
  auto& f = section("federation");
  f.insert_or_assign("rounds", c.federation.rounds);
  f.insert_or_assign("cohort_size", c.federation.cohort_size);
  f.insert_or_assign("min_contributors", c.federation.min_contributors);
  auto& cl = section("client");
  cl.insert_or_assign("epochs", c.client.epochs);
  cl.insert_or_assign("batch_size", c.client.batch_size);
  cl.insert_or_assign("lr", c.client.lr);
  cl.insert_or_assign("optimizer", c.client.optimizer == protocol::LocalOptimizerKind::kAdam ? "adam" : "sgd");
  cl.insert_or_assign("max_steps", c.client.max_steps);
  cl.insert_or_assign("fedprox_mu", c.client.fedprox_mu);
  auto& sv = section("server");
  const auto& o = c.server.optimizer;
  sv.insert_or_assign("strategy", o.name);
  if (o.server_lr) sv.insert_or_assign("server_lr", *o.server_lr);
  if (o.momentum) sv.insert_or_assign("momentum", *o.momentum);
  if (o.beta1) sv.insert_or_assign("beta1", *o.beta1);
  if (o.beta2) sv.insert_or_assign("beta2", *o.beta2);
  if (o.tau) sv.insert_or_assign("tau", *o.tau);
  sv.insert_or_assign("weighting", c.server.weighting == UpdateWeighting::examples ? "examples" : "uniform");
  auto& d = section("dp_sgd");
  d.insert_or_assign("enabled", c.dp_sgd.enabled);
  d.insert_or_assign("noise_multiplier", c.dp_sgd.noise_multiplier);
  d.insert_or_assign("l2_norm_clip", c.dp_sgd.l2_norm_clip);
  d.insert_or_assign("sampling_rate", c.dp_sgd.sampling_rate);
  d.insert_or_assign("steps", c.dp_sgd.steps);
  d.insert_or_assign("per_example_loss", c.dp_sgd.per_example_loss);
  auto& u = section("user_dp");
  u.insert_or_assign("enabled", c.user_dp.enabled);
  u.insert_or_assign("mode", c.user_dp.mode);
  u.insert_or_assign("noise_multiplier", c.user_dp.noise_multiplier);
  u.insert_or_assign("l2_norm_clip", c.user_dp.l2_norm_clip);
  u.insert_or_assign("adaptive_clipping", c.user_dp.adaptive_clipping);
  u.insert_or_assign("target_quantile", c.user_dp.target_quantile);
  u.insert_or_assign("clip_learning_rate", c.user_dp.clip_learning_rate);
  u.insert_or_assign("count_noise_stddev", c.user_dp.count_noise_stddev);
  u.insert_or_assign("delta", c.user_dp.delta);
  u.insert_or_assign("mechanism", c.user_dp.mechanism);
  u.insert_or_assign("max_participations", c.user_dp.max_participations);
  u.insert_or_assign("min_survivors", c.user_dp.min_survivors);
  u.insert_or_assign("restart_every", c.user_dp.restart_every);
  auto& sa = section("secagg");
  sa.insert_or_assign("enabled", c.secagg.enabled);
  sa.insert_or_assign("graph", c.secagg.graph);
  sa.insert_or_assign("degree", c.secagg.degree);
  sa.insert_or_assign("threshold", c.secagg.threshold);
  sa.insert_or_assign("corrupt_fraction", c.secagg.corrupt_fraction);
  sa.insert_or_assign("dropout_fraction", c.secagg.dropout_fraction);
  sa.insert_or_assign("clip_range", c.secagg.clip_range);
  sa.insert_or_assign("bits", c.secagg.bits);
  sa.insert_or_assign("word_bits", c.secagg.word_bits);
  sa.insert_or_assign("consistency_check", c.secagg.consistency_check);
  sa.insert_or_assign("graph_seed_work", c.secagg.graph_seed_work);
  std::ostringstream out;
  out << t << "\n";
  return out.str();
}

void JobConfig::validate() const {
  auto bad = [](const std::string& what) { throw ConfigError("config: " + what); };
  if (lora.rank < 1) bad("lora.rank must be >= 1");
  if (!(lora.alpha > 0)) bad("lora.alpha must be > 0");
  if (lora.target_modules.empty()) bad("lora.target_modules must name at least one module");
  if (federation.rounds < 1) bad("federation.rounds must be >= 1");
  if (federation.cohort_size < 1) bad("federation.cohort_size must be >= 1");
  if (federation.min_contributors < 1 || federation.min_contributors > federation.cohort_size)
    bad("federation.min_contributors must be in [1, cohort_size]");
  if (client.epochs < 1) bad("client.epochs must be >= 1");
  if (client.batch_size < 1) bad("client.batch_size must be >= 1");
  if (!(client.lr > 0) || !std::isfinite(client.lr)) bad("client.lr must be a positive finite number");
  if (client.max_steps < 0) bad("client.max_steps must be >= 0 (0 = no cap)");
  if (!(client.fedprox_mu >= 0) || !std::isfinite(client.fedprox_mu)) bad("client.fedprox_mu must be >= 0");
  try {  // the strategy's own rules (known name, only the hyperparameters it uses), checked at load
    (void)coordinator::make_server_optimizer(server.optimizer, 1);
  } catch (const coordinator::StrategyConfigError& e) {
    bad(std::string("server.strategy: ") + e.what());
  }
  if (dp_sgd.enabled) {
    if (!(dp_sgd.noise_multiplier > 0)) bad("dp_sgd.noise_multiplier must be > 0");
    if (!(dp_sgd.l2_norm_clip > 0)) bad("dp_sgd.l2_norm_clip must be > 0");
    if (!(dp_sgd.sampling_rate >= 0 && dp_sgd.sampling_rate <= 1)) bad("dp_sgd.sampling_rate must be in [0, 1] (0 = batch_size / N)");
    if (dp_sgd.steps < 0) bad("dp_sgd.steps must be >= 0 (0 = epochs / q)");
    if (!(dp_sgd.epsilon > 0) || !std::isfinite(dp_sgd.epsilon)) bad("dp_sgd.epsilon must be a positive finite budget");
    if (!(dp_sgd.delta > 0 && dp_sgd.delta < 1)) bad("dp_sgd.delta must be in (0, 1)");
    if (dp_sgd.per_example_loss != "token_mean" && dp_sgd.per_example_loss != "token_sum")
      bad("dp_sgd.per_example_loss '" + dp_sgd.per_example_loss + "': use token_mean or token_sum");
  }
  if (user_dp.mode != "central" && user_dp.mode != "distributed")
    bad("user_dp.mode '" + user_dp.mode + "': use central or distributed");
  if (user_dp.enabled) {
    if (!(user_dp.noise_multiplier >= 0)) bad("user_dp.noise_multiplier must be >= 0");
    if (!(user_dp.l2_norm_clip > 0)) bad("user_dp.l2_norm_clip must be > 0");
    if (!(user_dp.delta >= 0 && user_dp.delta < 1)) bad("user_dp.delta must be in [0, 1) (0 = 1/population^1.1)");
    if (user_dp.mechanism != "dp_fedavg" && user_dp.mechanism != "dp_ftrl")
      bad("user_dp.mechanism '" + user_dp.mechanism + "': use dp_fedavg or dp_ftrl");
    if (user_dp.max_participations < 0) bad("user_dp.max_participations must be >= 0 (0 = no cap)");
    if (user_dp.min_survivors < 0) bad("user_dp.min_survivors must be >= 0 (0 = t + a_max)");
    if (user_dp.min_survivors > 0 && user_dp.mode != "distributed")
      bad("user_dp.min_survivors applies to mode = \"distributed\" only");
    if (user_dp.min_survivors > federation.cohort_size)
      bad("user_dp.min_survivors exceeds federation.cohort_size: every round would abort");
    if (user_dp.restart_every < 0) bad("user_dp.restart_every must be >= 0 (0 = population / cohort)");
    if (user_dp.mechanism == "dp_ftrl") {
      if (user_dp.mode != "central") bad("user_dp.mechanism = dp_ftrl adds its tree noise centrally: use user_dp.mode = central");
      if (user_dp.adaptive_clipping) bad("user_dp.mechanism = dp_ftrl does not support adaptive_clipping");
      if (server.optimizer.name != "fedavg")
        bad("user_dp.mechanism = dp_ftrl needs server.strategy = fedavg (plain η·update: the FTRL iterate)");
    }
    if (user_dp.mode == "distributed" && !secagg.enabled)
      bad("user_dp.mode = distributed adds noise on devices for a sum only secure aggregation reveals; "
          "set secagg.enabled = true or use mode = central");
  }
  if (secagg.graph != "auto" && secagg.graph != "complete" && secagg.graph != "harary")
    bad("secagg.graph '" + secagg.graph + "': use auto, complete or harary");
  if (secagg.degree < 0 || secagg.threshold < 0) bad("secagg.degree and secagg.threshold must be >= 0 (0 = automatic)");
  if (!(secagg.corrupt_fraction >= 0 && secagg.corrupt_fraction < 1)) bad("secagg.corrupt_fraction must be in [0, 1)");
  if (!(secagg.dropout_fraction >= 0 && secagg.dropout_fraction < 1)) bad("secagg.dropout_fraction must be in [0, 1)");
  if (!(secagg.clip_range >= 0)) bad("secagg.clip_range must be >= 0 (0 = automatic)");
  if (secagg.word_bits != 32 && secagg.word_bits != 64) bad("secagg.word_bits must be 32 or 64");
  if (secagg.bits < 1 || secagg.bits >= secagg.word_bits) bad("secagg.bits must be in [1, word_bits)");
  if (secagg.graph_seed_work < 0 || secagg.graph_seed_work > 18)
    bad("secagg.graph_seed_work must be in [0, 18] (log2 of the scrypt cost; 0 = SHA-256 only)");
}

std::vector<std::pair<std::string, std::string>> describe_job(const JobConfig& c) {
  std::vector<std::pair<std::string, std::string>> d;
  auto num = format_number;
  d.emplace_back("model.base", c.model.base.string());
  d.emplace_back("model.quantize", weight_type_name(c.model.quantize));
  d.emplace_back("lora.rank", std::to_string(c.lora.rank));
  d.emplace_back("lora.alpha", num(c.lora.alpha));
  std::string t;
  for (auto m : c.lora.target_modules) t += (t.empty() ? "" : ",") + std::string(lora::peft_module_name(m));
  d.emplace_back("lora.target_modules", t);
  d.emplace_back("lora.freeze_a", c.lora.freeze_a ? "true" : "false");
  d.emplace_back("federation.rounds", std::to_string(c.federation.rounds));
  d.emplace_back("federation.cohort_size", std::to_string(c.federation.cohort_size));
  d.emplace_back("federation.min_contributors", std::to_string(c.federation.min_contributors));
  d.emplace_back("client.epochs", std::to_string(c.client.epochs));
  d.emplace_back("client.batch_size", std::to_string(c.client.batch_size));
  d.emplace_back("client.lr", num(c.client.lr));
  d.emplace_back("client.optimizer", c.client.optimizer == protocol::LocalOptimizerKind::kAdam ? "adam" : "sgd");
  d.emplace_back("client.max_steps", std::to_string(c.client.max_steps));
  d.emplace_back("client.fedprox_mu", num(c.client.fedprox_mu));
  d.emplace_back("server.strategy", c.server.optimizer.name);
  if (c.server.optimizer.server_lr) d.emplace_back("server.server_lr", num(*c.server.optimizer.server_lr));
  if (c.server.optimizer.momentum) d.emplace_back("server.momentum", num(*c.server.optimizer.momentum));
  if (c.server.optimizer.beta1) d.emplace_back("server.beta1", num(*c.server.optimizer.beta1));
  if (c.server.optimizer.beta2) d.emplace_back("server.beta2", num(*c.server.optimizer.beta2));
  if (c.server.optimizer.tau) d.emplace_back("server.tau", num(*c.server.optimizer.tau));
  d.emplace_back("server.weighting", c.server.weighting == UpdateWeighting::examples ? "examples" : "uniform");
  d.emplace_back("dp_sgd.enabled", c.dp_sgd.enabled ? "true" : "false");
  if (c.dp_sgd.enabled) {
    d.emplace_back("dp_sgd.noise_multiplier", num(c.dp_sgd.noise_multiplier));
    d.emplace_back("dp_sgd.l2_norm_clip", num(c.dp_sgd.l2_norm_clip));
    d.emplace_back("dp_sgd.sampling_rate", num(c.dp_sgd.sampling_rate));
    d.emplace_back("dp_sgd.steps", std::to_string(c.dp_sgd.steps));
    d.emplace_back("dp_sgd.per_example_loss", c.dp_sgd.per_example_loss);
    d.emplace_back("dp_sgd.epsilon", num(c.dp_sgd.epsilon));
    d.emplace_back("dp_sgd.delta", num(c.dp_sgd.delta));
    d.emplace_back("dp_sgd.ledger", c.dp_sgd.ledger);
  }
  d.emplace_back("user_dp.enabled", c.user_dp.enabled ? "true" : "false");
  if (c.user_dp.enabled) {
    d.emplace_back("user_dp.mode", c.user_dp.mode);
    d.emplace_back("user_dp.noise_multiplier", num(c.user_dp.noise_multiplier));
    d.emplace_back("user_dp.l2_norm_clip", num(c.user_dp.l2_norm_clip));
    d.emplace_back("user_dp.adaptive_clipping", c.user_dp.adaptive_clipping ? "true" : "false");
    if (c.user_dp.adaptive_clipping) {
      d.emplace_back("user_dp.target_quantile", num(c.user_dp.target_quantile));
      d.emplace_back("user_dp.clip_learning_rate", num(c.user_dp.clip_learning_rate));
      d.emplace_back("user_dp.count_noise_stddev", num(c.user_dp.count_noise_stddev));
    }
    d.emplace_back("user_dp.delta", num(c.user_dp.delta));
    d.emplace_back("user_dp.mechanism", c.user_dp.mechanism);
    d.emplace_back("user_dp.max_participations", std::to_string(c.user_dp.max_participations));
    if (c.user_dp.mode == "distributed") d.emplace_back("user_dp.min_survivors", std::to_string(c.user_dp.min_survivors));
    if (c.user_dp.mechanism == "dp_ftrl") d.emplace_back("user_dp.restart_every", std::to_string(c.user_dp.restart_every));
  }
  d.emplace_back("secagg.enabled", c.secagg.enabled ? "true" : "false");
  if (c.secagg.enabled) {
    d.emplace_back("secagg.graph", c.secagg.graph);
    d.emplace_back("secagg.degree", std::to_string(c.secagg.degree));
    d.emplace_back("secagg.threshold", std::to_string(c.secagg.threshold));
    d.emplace_back("secagg.corrupt_fraction", num(c.secagg.corrupt_fraction));
    d.emplace_back("secagg.dropout_fraction", num(c.secagg.dropout_fraction));
    d.emplace_back("secagg.clip_range", num(c.secagg.clip_range));
    d.emplace_back("secagg.bits", std::to_string(c.secagg.bits));
    d.emplace_back("secagg.word_bits", std::to_string(c.secagg.word_bits));
    d.emplace_back("secagg.consistency_check", c.secagg.consistency_check ? "true" : "false");
    d.emplace_back("secagg.graph_seed_work", std::to_string(c.secagg.graph_seed_work));
  }
  return d;
}

}  // namespace fedlora::config
