// Every validation rule of a run configuration, one case each: the rule fires on a value just
// outside its range, and its message names the key. A rule that is deleted or stops firing
// fails its case. Unknown keys name the nearest valid key.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "simulator/config/sim_config.h"

namespace fedlora::sim {
namespace {
namespace fs = std::filesystem;

struct ConfigFile {
  fs::path path = fs::temp_directory_path() / ("fedlora_rules_" + std::to_string(::getpid()) + ".toml");
  explicit ConfigFile(const std::string& text) { std::ofstream(path) << text; }
  ~ConfigFile() { fs::remove(path); }
};

// The error message, or "" if the configuration loads.
std::string error_of(const std::string& toml, const std::vector<std::string>& sets) {
  ConfigFile f(toml);
  try {
    load_sim_config(f.path, sets);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

struct Rule {
  std::vector<std::string> sets;
  std::string expected;  // a phrase of this rule's message, naming the key
};

const std::vector<std::string> kUserDp{"user_dp.enabled=true"};
const std::vector<std::string> kDpSgd{"dp_sgd.enabled=true"};

std::vector<std::string> with(std::vector<std::string> base, std::initializer_list<std::string> more) {
  base.insert(base.end(), more);
  return base;
}

TEST(ConfigRules, EveryValidationRuleFiresAndNamesItsKey) {
  const std::vector<Rule> rules = {
      // [run], [data], simulator-only [federation] keys
      {{"run.name=\"\""}, "run.name must be a non-empty folder name"},
      {{"run.name=\"a/b\""}, "run.name must be a non-empty folder name"},
      {{"run.threads=-1"}, "run.threads must be >= 0"},
      {{"data.format=csv"}, "data.format 'csv'"},
      {{"data.min_examples=1"}, "data.min_examples must be >= 2"},
      {{"data.train_percent=0"}, "data.train_percent must be in [1, 99]"},
      {{"data.train_percent=100"}, "data.train_percent must be in [1, 99]"},
      {{"data.max_users=-1"}, "data.max_users must be >= 0"},
      {{"federation.eval_every=0"}, "federation.eval_every must be >= 1"},
      {{"federation.eval_users=0"}, "federation.eval_users must be >= 1"},
      {{"federation.eval_next_words=-1"}, "federation.eval_next_words must be >= 0"},
      {{"federation.dropout_rate=1"}, "federation.dropout_rate must be in [0, 1)"},
      {{"federation.dropout_rate=-0.1"}, "federation.dropout_rate must be in [0, 1)"},
      {{"client.memory_budget_mb=-1"}, "client.memory_budget_mb must be a finite number >= 0"},
      {{"client.base_matmul=\"int4\""}, "client.base_matmul 'int4': use fp32 or int8"},
      // types and ranges of the reader
      {{"federation.rounds=3000000000"}, "federation.rounds is out of range"},
      {{"federation.rounds=2.5"}, "federation.rounds must be an integer"},
      {{"client.lr=\"fast\""}, "client.lr must be a number"},
      {{"dp_sgd.enabled=1"}, "dp_sgd.enabled must be true or false"},
      {{"model.base=3"}, "model.base must be a string"},
      {{"lora.target_modules=[1]"}, "lora.target_modules must be a list of strings"},
      // [model], [lora]
      {{"model.quantize=q5_k"}, "model.quantize 'q5_k'"},
      {{"lora.rank=0"}, "lora.rank must be >= 1"},
      {{"lora.alpha=0"}, "lora.alpha must be > 0"},
      {{"lora.target_modules=[]"}, "lora.target_modules must name at least one module"},
      {{"lora.target_modules=[\"attn\"]"}, "lora.target_modules"},
      // [federation], [client], [server]
      {{"federation.rounds=0"}, "federation.rounds must be >= 1"},
      {{"federation.cohort_size=0"}, "federation.cohort_size must be >= 1"},
      {{"federation.min_contributors=0"}, "federation.min_contributors must be in [1, cohort_size]"},
      {{"client.epochs=0"}, "client.epochs must be >= 1"},
      {{"client.batch_size=0"}, "client.batch_size must be >= 1"},
      {{"client.lr=0"}, "client.lr must be a positive finite number"},
      {{"client.lr=nan"}, "client.lr must be a positive finite number"},
      {{"client.lr=inf"}, "client.lr must be a positive finite number"},
      {{"client.max_steps=-1"}, "client.max_steps must be >= 0"},
      {{"client.fedprox_mu=-0.5"}, "client.fedprox_mu must be >= 0"},
      {{"client.optimizer=rmsprop"}, "client.optimizer 'rmsprop'"},
      {{"server.weighting=tokens"}, "server.weighting 'tokens'"},
      {{"server.strategy=fedsgd"}, "server.strategy: unknown server optimizer 'fedsgd'"},
      {{"server.strategy=fedavg", "server.momentum=0.9"}, "server.strategy: server optimizer 'fedavg' does not use momentum"},
      {{"server.strategy=fedadagrad", "server.beta2=0.9"}, "does not use beta2"},
      // [dp_sgd]
      {with(kDpSgd, {"dp_sgd.noise_multiplier=0"}), "dp_sgd.noise_multiplier must be > 0"},
      {with(kDpSgd, {"dp_sgd.l2_norm_clip=0"}), "dp_sgd.l2_norm_clip must be > 0"},
      {with(kDpSgd, {"dp_sgd.sampling_rate=1.5"}), "dp_sgd.sampling_rate must be in [0, 1]"},
      {with(kDpSgd, {"dp_sgd.steps=-1"}), "dp_sgd.steps must be >= 0"},
      {with(kDpSgd, {"dp_sgd.epsilon=0"}), "dp_sgd.epsilon must be a positive finite budget"},
      {with(kDpSgd, {"dp_sgd.epsilon=inf"}), "dp_sgd.epsilon must be a positive finite budget"},
      {with(kDpSgd, {"dp_sgd.delta=1"}), "dp_sgd.delta must be in (0, 1)"},
      {with(kDpSgd, {"dp_sgd.delta=0"}), "dp_sgd.delta must be in (0, 1)"},
      {with(kDpSgd, {"dp_sgd.per_example_loss=token_max"}), "dp_sgd.per_example_loss 'token_max'"},
      // [user_dp]
      {{"user_dp.mode=local"}, "user_dp.mode 'local'"},
      {with(kUserDp, {"user_dp.noise_multiplier=-1"}), "user_dp.noise_multiplier must be >= 0"},
      {with(kUserDp, {"user_dp.l2_norm_clip=0"}), "user_dp.l2_norm_clip must be > 0"},
      {with(kUserDp, {"user_dp.delta=1"}), "user_dp.delta must be in [0, 1)"},
      {with(kUserDp, {"user_dp.mechanism=dp_sgd"}), "user_dp.mechanism 'dp_sgd'"},
      {with(kUserDp, {"user_dp.max_participations=-1"}), "user_dp.max_participations must be >= 0"},
      {with(kUserDp, {"user_dp.min_survivors=-1"}), "user_dp.min_survivors must be >= 0"},
      {with(kUserDp, {"user_dp.min_survivors=3"}), "user_dp.min_survivors applies to mode = \"distributed\" only"},
      {with(kUserDp, {"user_dp.mode=distributed", "secagg.enabled=true", "federation.cohort_size=10",
                      "user_dp.min_survivors=11"}),
       "user_dp.min_survivors exceeds federation.cohort_size"},
      {with(kUserDp, {"user_dp.restart_every=-1"}), "user_dp.restart_every must be >= 0"},
      {with(kUserDp, {"user_dp.mechanism=dp_ftrl", "user_dp.mode=distributed", "secagg.enabled=true"}),
       "adds its tree noise centrally"},
      {with(kUserDp, {"user_dp.mechanism=dp_ftrl", "user_dp.adaptive_clipping=true"}),
       "dp_ftrl does not support adaptive_clipping"},
      {with(kUserDp, {"user_dp.mechanism=dp_ftrl", "server.strategy=fedadam"}), "needs server.strategy = fedavg"},
      {with(kUserDp, {"user_dp.mode=distributed"}), "set secagg.enabled = true"},
      // [secagg]
      {{"secagg.graph=ring"}, "secagg.graph 'ring'"},
      {{"secagg.degree=-1"}, "secagg.degree and secagg.threshold must be >= 0"},
      {{"secagg.threshold=-1"}, "secagg.degree and secagg.threshold must be >= 0"},
      {{"secagg.corrupt_fraction=1"}, "secagg.corrupt_fraction must be in [0, 1)"},
      {{"secagg.dropout_fraction=1"}, "secagg.dropout_fraction must be in [0, 1)"},
      {{"secagg.clip_range=-1"}, "secagg.clip_range must be >= 0"},
      {{"secagg.word_bits=48"}, "secagg.word_bits must be 32 or 64"},
      {{"secagg.bits=0"}, "secagg.bits must be in [1, word_bits)"},
      {{"secagg.word_bits=32", "secagg.bits=32"}, "secagg.bits must be in [1, word_bits)"},
      {{"secagg.graph_seed_work=19"}, "secagg.graph_seed_work must be in [0, 18]"},
  };
  for (const auto& rule : rules) {
    std::string label;
    for (const auto& s : rule.sets) label += s + " ";
    const std::string msg = error_of("", rule.sets);
    EXPECT_NE(msg.find(rule.expected), std::string::npos) << label << "\n  got: " << (msg.empty() ? "(loaded)" : msg);
  }
}

TEST(ConfigRules, ValuesJustInsideEveryRangeLoad) {
  // The boundary cases of the rules above, on the accepted side.
  for (const auto& sets : std::vector<std::vector<std::string>>{
           {"data.min_examples=2", "data.train_percent=1", "federation.dropout_rate=0"},
           {"data.train_percent=99", "client.max_steps=0", "client.fedprox_mu=0", "client.memory_budget_mb=0", "client.base_matmul=\"int8\""},
           {"secagg.word_bits=32", "secagg.bits=31", "secagg.graph_seed_work=0"},
           {"secagg.graph_seed_work=18", "secagg.corrupt_fraction=0"},
           {"dp_sgd.enabled=true", "dp_sgd.sampling_rate=1", "dp_sgd.delta=0.5"},
           {"user_dp.enabled=true", "user_dp.noise_multiplier=0", "user_dp.delta=0"},
           {"user_dp.enabled=true", "user_dp.mode=distributed", "secagg.enabled=true", "federation.cohort_size=10",
            "user_dp.min_survivors=10"},
           {"server.strategy=fedavgm", "server.momentum=0.5"},
       }) {
    std::string label;
    for (const auto& s : sets) label += s + " ";
    EXPECT_EQ(error_of("", sets), "") << label;
  }
}

TEST(ConfigRules, UnknownKeysNameTheLineAndTheNearestValidKey) {
  const std::string file = "[federation]\nrounds = 2\nround = 3\n\n[client]\nlearning_rate = 0.1\n";
  const std::string msg = error_of(file, {});
  EXPECT_NE(msg.find(":3: unknown key federation.round; did you mean federation.rounds?"), std::string::npos) << msg;
  // Nothing close: the section's valid keys are listed instead of a far-fetched guess.
  EXPECT_NE(msg.find(":6: unknown key client.learning_rate; valid keys of [client]: "), std::string::npos) << msg;
  EXPECT_NE(msg.find("lr"), std::string::npos) << msg;

  // A right key in the wrong section points to its section.
  EXPECT_NE(error_of("[client]\ncohort_size = 3\n", {}).find("did you mean federation.cohort_size?"), std::string::npos);
  // Keys read only when present are still known.
  EXPECT_NE(error_of("[server]\nmomentm = 0.9\n", {}).find("did you mean server.momentum?"), std::string::npos);
  // A misspelt section.
  EXPECT_NE(error_of("[federaton]\nrounds = 3\n", {}).find("unknown section [federaton]; did you mean [federation]?"),
            std::string::npos);
  // An override has no line.
  EXPECT_NE(error_of("", {"secagg.treshold=3"}).find("(--set): unknown key secagg.treshold; did you mean secagg.threshold?"),
            std::string::npos);
}

}  // namespace
}  // namespace fedlora::sim
