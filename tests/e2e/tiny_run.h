#pragma once
// The tiny end-to-end job shared by the e2e simulation suites: a 3-layer tiny model and three
// users with distinct, repetitive styles (10 texts each: 8 train, 2 test), 2 rounds.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "simulator/config/sim_config.h"
#include "tests/e2e/tiny_model.h"

namespace fedlora {

namespace fs = std::filesystem;
using nlohmann::json;

struct TinyRun {
  fs::path dir = fs::temp_directory_path() / ("fedlora_e2e_" + std::to_string(::getpid()));
  TinyRun() {
    fs::create_directories(dir);
    test::write_tiny_model(dir / "tiny.gguf", 3);
    // Three users with distinct, repetitive styles; each has 10 texts (8 train, 2 test).
    std::ofstream out(dir / "users.jsonl");
    const char* styles[] = {"the cat sat on the mat and the cat sat again", "to be or not to be, that is it",
                            "abc abc abc def def def abc abc def"};
    for (int u = 0; u < 3; ++u)
      for (int i = 0; i < 10; ++i)
        out << json{{"user", "user" + std::to_string(u)}, {"text", std::string(styles[u]) + " " + std::to_string(i)}}.dump()
            << "\n";
  }
  ~TinyRun() { fs::remove_all(dir); }

  /// The --set overrides of config(), for a fedlora-sim command line over tiny.toml.
  std::vector<std::string> sets(uint64_t seed, std::vector<std::string> extra = {}) const {
    std::ofstream(dir / "tiny.toml") << "";
    std::vector<std::string> sets{"model.base=\"" + (dir / "tiny.gguf").string() + "\"", "model.quantize=q8_0", "data.format=jsonl",
         "data.path=\"" + (dir / "users.jsonl").string() + "\"", "run.output_dir=\"" + dir.string() + "\"",
         "run.seed=" + std::to_string(seed), "run.threads=2", "federation.rounds=2", "federation.cohort_size=3",
         "federation.eval_every=1", "federation.eval_users=3", "client.epochs=3", "client.batch_size=4",
         "client.lr=0.01", "lora.rank=4", "lora.alpha=8"};
    sets.insert(sets.end(), extra.begin(), extra.end());
    return sets;
  }

  sim::SimConfig config(const std::string& name, uint64_t seed, std::vector<std::string> extra = {}) const {
    return sim::load_sim_config(dir / "tiny.toml", sets(seed, std::move(extra)), name);
  }
};

inline std::vector<json> metrics_without_timing(const fs::path& run_dir) {
  std::ifstream in(run_dir / "metrics.jsonl");
  std::vector<json> rows;
  for (std::string line; std::getline(in, line);) {
    auto j = json::parse(line);
    j.erase("wall_s");
    j.erase("peak_rss_mb");  // host measures
    if (j.contains("secagg")) j["secagg"].erase("server_cpu_s");
    rows.push_back(j);
  }
  return rows;
}

inline void expect_same_metrics(const std::vector<json>& a, const std::vector<json>& b, double tol) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t r = 0; r < a.size(); ++r) {
    for (const char* key : {"cohort", "contributors", "aborted", "train_tokens"}) {
      if (a[r].contains(key)) {
        EXPECT_EQ(a[r][key], b[r][key]) << "round " << r << " " << key;
      }
    }
    for (const char* key : {"train_loss", "update_norm"}) {
      if (a[r].contains(key)) {
        EXPECT_NEAR(a[r][key].get<double>(), b[r][key].get<double>(), tol) << "round " << r << " " << key;
      }
    }
    if (!a[r].contains("eval")) continue;
    for (const char* key : {"accuracy", "loss"})
      EXPECT_NEAR(a[r]["eval"][key].get<double>(), b[r]["eval"][key].get<double>(), tol) << "round " << r << " eval " << key;
  }
}


}  // namespace fedlora
