// The arithmetic of the baselines, on hand-computed cases: how many examples a device's local
// training processes, how many a centralized round therefore draws, and the quartiles the
// personalisation report gives. And the centralized mode refusing what it cannot honour.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <stdexcept>
#include <vector>

#include "simulator/config/sim_config.h"
#include "simulator/run/centralized_run.h"
#include "simulator/run/personalization.h"

namespace fedlora::sim {
namespace {
namespace fs = std::filesystem;

TEST(CentralizedExamples, LocalTrainingCountsEveryBatchItTakes) {
  // n = 5, B = 2: batches 2, 2, 1 per epoch.
  EXPECT_EQ(local_examples(5, 1, 2, 0), 5);
  EXPECT_EQ(local_examples(5, 3, 2, 0), 15);
  EXPECT_EQ(local_examples(5, 3, 2, 9), 15);  // the cap is not reached
  EXPECT_EQ(local_examples(5, 3, 2, 2), 4);   // 2 + 2
  EXPECT_EQ(local_examples(5, 3, 2, 3), 5);   // one whole epoch
  EXPECT_EQ(local_examples(5, 3, 2, 4), 7);   // 5 + 2
  EXPECT_EQ(local_examples(5, 3, 2, 8), 14);  // 5 + 5 + 2 + 2
  EXPECT_EQ(local_examples(1, 2, 8, 1), 1);
  EXPECT_EQ(local_examples(0, 2, 8, 0), 0);
  EXPECT_THROW(local_examples(3, 0, 2, 0), std::invalid_argument);
  EXPECT_THROW(local_examples(3, 1, 0, 0), std::invalid_argument);
  EXPECT_THROW(local_examples(-1, 1, 2, 0), std::invalid_argument);
}

TEST(CentralizedExamples, ARoundIsTheCohortsExpectedExamples) {
  // Users with 1, 3 and 6 windows, E = 2, B = 2, K = 2: 2 × (2 + 6 + 12) / 3 = 13.33 → 13.
  const std::vector<std::int64_t> users{1, 3, 6};
  EXPECT_EQ(centralized_examples_per_round(users, 2, 2, 2, 0), 13);
  // max_steps = 2: 2 (1 window, 2 epochs), 3 (one epoch of 2 + 1), 4 (2 batches of 2): 2 × 9 / 3.
  EXPECT_EQ(centralized_examples_per_round(users, 2, 2, 2, 2), 6);
  // Never above K × max_steps × B.
  EXPECT_EQ(centralized_examples_per_round(std::vector<std::int64_t>{100, 200}, 16, 2, 8, 3), 16 * 3 * 8);
  EXPECT_EQ(centralized_examples_per_round(std::vector<std::int64_t>{7}, 1, 1, 8, 0), 7);
  EXPECT_THROW(centralized_examples_per_round(std::vector<std::int64_t>{}, 2, 1, 2, 0), std::invalid_argument);
}

TEST(PersonalizationQuartiles, InterpolateBetweenOrderStatistics) {
  // Sorted 1 2 3 4: h = 0.75, 1.5, 2.25.
  auto q = quartiles({4, 1, 3, 2});
  EXPECT_DOUBLE_EQ(q.q25, 1.75);
  EXPECT_DOUBLE_EQ(q.median, 2.5);
  EXPECT_DOUBLE_EQ(q.q75, 3.25);
  // Sorted -1 3 5: h = 0.5, 1, 1.5.
  q = quartiles({5, -1, 3});
  EXPECT_DOUBLE_EQ(q.q25, 1.0);
  EXPECT_DOUBLE_EQ(q.median, 3.0);
  EXPECT_DOUBLE_EQ(q.q75, 4.0);
  // Sorted -0.4 -0.2 -0.1 0 0.3: h = 1, 2, 3.
  q = quartiles({0.0, -0.2, 0.3, -0.4, -0.1});
  EXPECT_DOUBLE_EQ(q.q25, -0.2);
  EXPECT_DOUBLE_EQ(q.median, -0.1);
  EXPECT_DOUBLE_EQ(q.q75, 0.0);
  q = quartiles({7});
  EXPECT_DOUBLE_EQ(q.q25, 7);
  EXPECT_DOUBLE_EQ(q.q75, 7);
  EXPECT_THROW(quartiles({}), std::invalid_argument);
  EXPECT_THROW(quartiles({1.0, std::numeric_limits<double>::quiet_NaN()}), std::invalid_argument);
}

std::string error_of(const std::vector<std::string>& sets) {
  const fs::path path = fs::temp_directory_path() / ("fedlora_baselines_" + std::to_string(::getpid()) + ".toml");
  std::ofstream(path) << "";
  std::string msg;
  try {
    load_sim_config(path, sets);
  } catch (const ConfigError& e) {
    msg = e.what();
  }
  fs::remove(path);
  return msg;
}

TEST(CentralizedConfig, RefusesWhatItCannotHonourNamingTheKey) {
  const std::string central = "federation.mode=\"centralized\"";
  for (const auto& [set, key] : std::vector<std::pair<std::string, std::string>>{
           {"user_dp.enabled=true", "user_dp.enabled"},
           {"dp_sgd.enabled=true", "dp_sgd.enabled"},
           {"secagg.enabled=true", "secagg.enabled"},
           {"server.strategy=fedadam", "server.strategy"},
           {"server.server_lr=0.5", "server.server_lr"},
           {"federation.dropout_rate=0.1", "federation.dropout_rate"},
           {"client.memory_budget_mb=100", "client.memory_budget_mb"}}) {
    const std::string msg = error_of({central, set});
    EXPECT_NE(msg.find("federation.mode = \"centralized\""), std::string::npos) << set << ": " << msg;
    EXPECT_NE(msg.find(key), std::string::npos) << set << ": " << msg;
    EXPECT_EQ(error_of({set}), "") << set << " alone must load (federated)";
  }
  EXPECT_EQ(error_of({central, "server.server_lr=1", "federation.personalize_steps=5"}), "");
  const std::string bad_mode = error_of({"federation.mode=\"central\""});
  EXPECT_NE(bad_mode.find("federation.mode 'central'"), std::string::npos) << bad_mode;
  EXPECT_NE(bad_mode.find("federated or centralized"), std::string::npos) << bad_mode;
  EXPECT_NE(error_of({"federation.personalize_steps=-1"}).find("federation.personalize_steps must be >= 0"),
            std::string::npos);
}

TEST(CentralizedConfig, NewKeysDefaultOffAndAreDescribed) {
  const fs::path path = fs::temp_directory_path() / ("fedlora_baselines_d_" + std::to_string(::getpid()) + ".toml");
  std::ofstream(path) << "";
  const auto plain = load_sim_config(path, {});
  EXPECT_EQ(plain.federation.mode, "federated");
  EXPECT_EQ(plain.federation.personalize_steps, 0);
  const auto set = load_sim_config(path, {"federation.mode=centralized", "federation.personalize_steps=4"});
  fs::remove(path);
  int found = 0;
  for (const auto& [k, v] : describe(set)) {
    if (k == "federation.mode") found += v == "centralized";
    if (k == "federation.personalize_steps") found += v == "4";
  }
  EXPECT_EQ(found, 2);
}

}  // namespace
}  // namespace fedlora::sim
