// Run configuration: defaults, typed --set overrides, and errors that name the key.
#include <gtest/gtest.h>

#include <map>
#include <sstream>

#include <filesystem>
#include <fstream>

#include "simulator/config/sim_config.h"

namespace fedlora::sim {
namespace {
namespace fs = std::filesystem;

struct ConfigFile {
  fs::path path = fs::temp_directory_path() / ("fedlora_cfg_" + std::to_string(::getpid()) + ".toml");
  explicit ConfigFile(const std::string& text) { std::ofstream(path) << text; }
  ~ConfigFile() { fs::remove(path); }
};

std::string error_of(const std::string& toml, const std::vector<std::string>& sets = {}) {
  ConfigFile f(toml);
  try {
    load_sim_config(f.path, sets);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

TEST(SimConfig, EmptyFileGivesDocumentedDefaults) {
  ConfigFile f("");
  const auto c = load_sim_config(f.path, {});
  EXPECT_EQ(c.model.quantize, lora::GgmlType::Q8_0);
  EXPECT_EQ(c.lora.rank, 8);
  EXPECT_EQ(c.lora.target_modules.size(), 7u);
  EXPECT_EQ(c.data.train_percent, 80);
  EXPECT_EQ(c.server.optimizer.name, "fedavg");
  EXPECT_FALSE(c.server.optimizer.server_lr.has_value());
}

// configs/shakespeare.toml says that every value in it is the default: an empty file must
// therefore describe the very same job (all keys, as summary.json records them).
TEST(SimConfig, EmptyFileIsTheMainJob) {
  ConfigFile f("");
  std::map<std::string, std::string> empty, main;
  for (auto& [k, v] : describe(load_sim_config(f.path, {}))) empty[k] = v;
  for (auto& [k, v] : describe(load_sim_config("configs/shakespeare.toml", {}))) main[k] = v;
  // The file spells out FedAvg's server_lr of 1, which an unset server_lr means.
  if (!empty.count("server.server_lr")) empty["server.server_lr"] = "1";
  empty.erase("run.name");
  main.erase("run.name");
  EXPECT_EQ(empty, main);
}

TEST(SimConfig, CommittedConfigsLoad) {
  int n = 0;
  for (const auto& e : fs::directory_iterator("configs")) {
    if (e.path().extension() != ".toml" || e.path().stem().string().rfind("coordinator", 0) == 0) continue;
    EXPECT_NO_THROW(load_sim_config(e.path(), {})) << e.path();
    ++n;
  }
  EXPECT_GE(n, 2);
}

// configs/repro/*.toml: every "# arm NAME: key=value ..." line (what scripts/reproduce.sh
// passes as --set) loads, and the configs name a target accuracy.
TEST(SimConfig, ReproductionConfigsLoadWithEveryArm) {
  int arms = 0, configs = 0;
  std::vector<fs::path> files{"configs/sync_vs_async.toml"};
  for (const auto& e : fs::directory_iterator("configs/repro")) files.push_back(e.path());
  for (const auto& path : files) {
    const fs::directory_entry e(path);
    if (e.path().extension() != ".toml") continue;
    ++configs;
    std::ifstream in(e.path());
    bool target = false;
    for (std::string line; std::getline(in, line);) {
      target |= line.rfind("# target_accuracy: ", 0) == 0;
      if (line.rfind("# arm ", 0) != 0) continue;
      const auto colon = line.find(':');
      ASSERT_NE(colon, std::string::npos) << e.path() << ": " << line;
      std::vector<std::string> sets;
      std::istringstream words(line.substr(colon + 1));
      for (std::string w; words >> w;) sets.push_back(w);
      EXPECT_NO_THROW(load_sim_config(e.path(), sets)) << e.path() << ": " << line;
      ++arms;
    }
    EXPECT_TRUE(target) << e.path() << " names no target accuracy";
  }
  EXPECT_EQ(configs, 6);
  EXPECT_GE(arms, 12);
}

TEST(SimConfig, OverridesAreTypedAndBareWordsAreStrings) {
  ConfigFile f("[federation]\nrounds = 60\n[model]\nquantize = \"q8_0\"\n");
  const auto c = load_sim_config(f.path, {"federation.rounds=3", "model.quantize=q4_0", "client.lr=0.5",
                                          "lora.target_modules=[\"q\", \"v_proj\"]", "server.server_lr=2"},
                                 "renamed");
  EXPECT_EQ(c.federation.rounds, 3);
  EXPECT_EQ(c.model.quantize, lora::GgmlType::Q4_0);
  EXPECT_DOUBLE_EQ(c.client.lr, 0.5);
  ASSERT_EQ(c.lora.target_modules.size(), 2u);
  EXPECT_EQ(c.lora.target_modules[1], lora::TargetModule::v);
  EXPECT_DOUBLE_EQ(*c.server.optimizer.server_lr, 2.0);  // integer accepted as a number
  EXPECT_EQ(c.run.name, "renamed");
}

TEST(SimConfig, ErrorsNameTheKey) {
  EXPECT_NE(error_of("[federation]\nrouns = 3\n").find("federation.rouns"), std::string::npos);
  EXPECT_NE(error_of("[federation]\nrounds = \"three\"\n").find("federation.rounds must be an integer"), std::string::npos);
  EXPECT_NE(error_of("", {"federation.cohort_size=0"}).find("cohort_size"), std::string::npos);
  EXPECT_NE(error_of("", {"model.quantize=q5_k"}).find("q5_k"), std::string::npos);
  EXPECT_NE(error_of("", {"lora.target_modules=[\"qq\"]"}).find("qq"), std::string::npos);
  EXPECT_NE(error_of("", {"rounds=3"}).find("section.key"), std::string::npos);
  EXPECT_NE(error_of("", {"federation.rounds"}).find("section.key=value"), std::string::npos);
  EXPECT_NE(error_of("[federation\n").find(":1:"), std::string::npos);  // syntax error with line
  EXPECT_NE(error_of("", {"client.optimizer=rmsprop"}).find("rmsprop"), std::string::npos);
  EXPECT_NE(error_of("", {"federation.min_contributors=99"}).find("min_contributors"), std::string::npos);
  EXPECT_NE(error_of("", {"user_dp.enabled=true", "user_dp.mode=distributed"}).find("secagg.enabled"), std::string::npos);
  EXPECT_NE(error_of("", {"dp_sgd.enabled=true", "dp_sgd.epsilon=0"}).find("dp_sgd.epsilon"), std::string::npos);
  EXPECT_NE(error_of("", {"secagg.word_bits=48"}).find("word_bits"), std::string::npos);
}

TEST(SimConfig, PartitionKeysParseAndBadValuesNameTheKey) {
  ConfigFile f("[data]\nformat = \"partition\"\npath = \"docs\"\nusers = 100000\nalpha = 0.3\nexamples_per_user = 6\n"
               "chunk_bytes = 256\nprior = \"uniform\"\n");
  const auto c = load_sim_config(f.path, {});
  EXPECT_EQ(c.data.format, DataFormat::partition);
  EXPECT_EQ(c.data.users, 100000);
  EXPECT_DOUBLE_EQ(c.data.alpha, 0.3);
  EXPECT_EQ(c.data.examples_per_user, 6);
  EXPECT_EQ(c.data.chunk_bytes, 256);
  EXPECT_EQ(c.data.prior, "uniform");
  bool described = false;
  for (const auto& [k, v] : describe(c)) described |= k == "data.alpha" && v == "0.3";
  EXPECT_TRUE(described);
  const std::string p = "[data]\nformat = \"partition\"\nusers = 1000\n";
  EXPECT_EQ(error_of(p), "");
  EXPECT_NE(error_of(p, {"data.users=0"}).find("data.users"), std::string::npos);
  EXPECT_NE(error_of(p, {"data.alpha=0"}).find("data.alpha"), std::string::npos);
  EXPECT_NE(error_of(p, {"data.alpha=-1.5"}).find("data.alpha"), std::string::npos);
  EXPECT_NE(error_of(p, {"data.examples_per_user=1"}).find("data.examples_per_user"), std::string::npos);
  EXPECT_NE(error_of(p, {"data.chunk_bytes=4"}).find("data.chunk_bytes"), std::string::npos);
  EXPECT_NE(error_of(p, {"data.prior=zipf"}).find("data.prior"), std::string::npos);
  EXPECT_NE(error_of(p, {"data.max_users=10"}).find("data.max_users"), std::string::npos);
  EXPECT_NE(error_of("", {"data.users=10"}).find("data.users"), std::string::npos);  // shakespeare has no users key
  for (const auto& [k, v] : describe(load_sim_config(ConfigFile("").path, {})))
    EXPECT_EQ(k.rfind("data.users", 0), std::string::npos) << "per-user formats describe no partition keys";
}

TEST(SimConfig, MissingFileIsNamed) {
  try {
    load_sim_config("no/such/config.toml", {});
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("no/such/config.toml"), std::string::npos);
  }
}

}  // namespace
}  // namespace fedlora::sim
