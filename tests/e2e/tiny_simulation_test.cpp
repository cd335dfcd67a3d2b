// A tiny end-to-end simulation through the real run loop: 3 users, 2 rounds. Federated
// training lowers the held-out loss, and the same seed reproduces every metric.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "simulator/config/sim_config.h"
#include "simulator/run/simulation.h"
#include "tests/e2e/tiny_model.h"

namespace fedlora {
namespace {
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

  sim::SimConfig config(const std::string& name, uint64_t seed) const {
    std::ofstream(dir / "tiny.toml") << "";
    return sim::load_sim_config(
        dir / "tiny.toml",
        {"model.base=\"" + (dir / "tiny.gguf").string() + "\"", "model.quantize=q8_0", "data.format=jsonl",
         "data.path=\"" + (dir / "users.jsonl").string() + "\"", "run.output_dir=\"" + dir.string() + "\"",
         "run.seed=" + std::to_string(seed), "run.threads=2", "federation.rounds=2", "federation.cohort_size=3",
         "federation.eval_every=1", "federation.eval_users=3", "client.epochs=3", "client.batch_size=4",
         "client.lr=0.01", "lora.rank=4", "lora.alpha=8"},
        name);
  }
};

std::vector<json> metrics_without_timing(const fs::path& run_dir) {
  std::ifstream in(run_dir / "metrics.jsonl");
  std::vector<json> rows;
  for (std::string line; std::getline(in, line);) {
    auto j = json::parse(line);
    j.erase("wall_s");
    rows.push_back(j);
  }
  return rows;
}

TEST(TinySimulation, LowersHeldOutLossAndIsDeterministic) {
  TinyRun t;
  const auto a = sim::run_simulation(t.config("a", 11), nullptr);
  EXPECT_EQ(a.rounds_completed, 2);
  EXPECT_LT(a.after.loss, a.before.loss - 0.05) << "before " << a.before.loss << " after " << a.after.loss;
  EXPECT_GT(a.after.tokens, 0);

  const auto b = sim::run_simulation(t.config("b", 11), nullptr);
  const auto ma = metrics_without_timing(a.run_dir), mb = metrics_without_timing(b.run_dir);
  ASSERT_EQ(ma.size(), 3u);  // round 0 (base) + 2 rounds
  EXPECT_EQ(ma, mb);

  const auto c = sim::run_simulation(t.config("c", 12), nullptr);
  EXPECT_NE(metrics_without_timing(c.run_dir), ma);  // the seed matters

  // Outputs a user would look for.
  for (const char* f : {"summary.json", "adapter/adapter_model.safetensors", "adapter/adapter_config.json",
                        "checkpoint/server_state.safetensors"})
    EXPECT_TRUE(fs::exists(a.run_dir / f)) << f;
  const auto summary = json::parse(std::ifstream(a.run_dir / "summary.json"));
  EXPECT_EQ(summary["seed"], 11);
  EXPECT_DOUBLE_EQ(summary["after"]["loss"].get<double>(), a.after.loss);
}

}  // namespace
}  // namespace fedlora
