// The baselines through the real run loop on a tiny model: the centralized run draws the
// cohort's expected examples per round (hand-computed from users with known window counts),
// lowers the held-out loss, is reproducible and writes the federated run's metrics; the
// personalisation report has one entry per evaluation user and the same numbers for the same
// seed, whatever the thread count.
#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "simulator/config/sim_config.h"
#include "simulator/report/plot_runs.h"
#include "simulator/run/run_checkpoint.h"
#include "simulator/run/sim_setup.h"
#include "simulator/run/simulation.h"
#include "tests/e2e/tiny_model.h"

namespace fedlora {
namespace {
namespace fs = std::filesystem;
using nlohmann::json;

// Three users of 5 texts each (4 train, 1 test) with no spaces, so that a text of L letters
// is L byte tokens plus its <s>/</s> (and a word-start piece at most): windows are 33 tokens
// advancing by 32, so the train streams give 1, 3 and 6 windows (each count is asserted).
struct BaselineRun {
  fs::path dir = fs::temp_directory_path() / ("fedlora_baselines_e2e_" + std::to_string(::getpid()));
  BaselineRun() {
    fs::create_directories(dir);
    test::write_tiny_model(dir / "tiny.gguf", 3);
    std::ofstream out(dir / "users.jsonl");
    const std::vector<std::pair<std::string, int>> users{{"ab", 3}, {"xyz", 17}, {"hello", 41}};  // pattern, letters
    for (size_t u = 0; u < users.size(); ++u)
      for (int i = 0; i < 5; ++i) {
        std::string text;
        while (static_cast<int>(text.size()) < users[u].second) text += users[u].first;
        text.resize(static_cast<size_t>(users[u].second));
        out << json{{"user", "user" + std::to_string(u)}, {"text", text}}.dump() << "\n";
      }
  }
  ~BaselineRun() { fs::remove_all(dir); }

  sim::SimConfig config(const std::string& name, uint64_t seed, std::vector<std::string> extra = {}) const {
    std::ofstream(dir / "tiny.toml") << "";
    std::vector<std::string> sets{"model.base=\"" + (dir / "tiny.gguf").string() + "\"", "model.quantize=q8_0",
                                  "data.format=jsonl", "data.path=\"" + (dir / "users.jsonl").string() + "\"",
                                  "run.output_dir=\"" + dir.string() + "\"", "run.seed=" + std::to_string(seed),
                                  "run.threads=2", "federation.rounds=3", "federation.cohort_size=2",
                                  "federation.eval_every=2", "federation.eval_users=3", "client.epochs=2",
                                  "client.batch_size=2", "client.lr=0.01", "lora.rank=4", "lora.alpha=8"};
    sets.insert(sets.end(), extra.begin(), extra.end());
    return sim::load_sim_config(dir / "tiny.toml", sets, name);
  }
};

std::vector<json> lines_of(const fs::path& file) {
  std::ifstream in(file);
  std::vector<json> rows;
  for (std::string line; std::getline(in, line);) {
    auto j = json::parse(line);
    j.erase("wall_s");
    rows.push_back(j);
  }
  return rows;
}

TEST(CentralizedRun, DrawsTheCohortsExpectedExamplesAndLearns) {
  BaselineRun t;
  const auto cfg = t.config("central", 5, {"federation.mode=centralized"});
  {
    const auto setup = sim::set_up_simulation(cfg, nullptr);
    std::map<std::string, size_t> windows;
    for (size_t id = 0; id < setup.fleet->size(); ++id) windows[setup.fleet->user_id(id)] = setup.fleet->meta(id).train_examples;
    ASSERT_EQ(windows, (std::map<std::string, size_t>{{"user0", 1}, {"user1", 3}, {"user2", 6}}));
  }
  const auto s = sim::run_simulation(cfg, nullptr);
  // K = 2, E = 2: 2 × (2·1 + 2·3 + 2·6) / 3 = 13.33 → 13 examples, ⌈13 / 2⌉ = 7 steps a round.
  const auto rows = lines_of(s.run_dir / "metrics.jsonl");
  ASSERT_EQ(rows.size(), 4u);
  EXPECT_TRUE(rows[0].contains("eval"));
  for (size_t r = 1; r < rows.size(); ++r) {
    EXPECT_EQ(rows[r]["round"], r);
    EXPECT_EQ(rows[r]["mode"], "centralized");
    EXPECT_EQ(rows[r]["examples"], 13) << rows[r].dump();
    EXPECT_EQ(rows[r]["steps"], 7) << rows[r].dump();
    EXPECT_GT(rows[r]["train_tokens"].get<int64_t>(), 0);
    EXPECT_GT(rows[r]["update_norm"].get<double>(), 0.0);
  }
  // Evaluated as the federated run is: every eval_every rounds and after the last.
  EXPECT_FALSE(rows[1].contains("eval"));
  EXPECT_TRUE(rows[2].contains("eval"));
  EXPECT_TRUE(rows[3].contains("eval"));
  EXPECT_EQ(s.rounds_completed, 3);
  EXPECT_LT(s.after.loss, s.before.loss - 0.05) << "before " << s.before.loss << " after " << s.after.loss;

  const auto summary = json::parse(std::ifstream(s.run_dir / "summary.json"));
  EXPECT_EQ(summary["config"]["federation.mode"], "centralized");
  EXPECT_EQ(summary["centralized"]["examples_per_round"], 13);
  EXPECT_EQ(summary["centralized"]["pooled_examples"], 10);
  EXPECT_DOUBLE_EQ(summary["after"]["loss"].get<double>(), s.after.loss);
  EXPECT_TRUE(summary["personalization"].is_null());

  // max_steps = 2: 2 × (2 + 3 + 4) / 3 = 6 examples, 3 steps.
  const auto capped = sim::run_simulation(t.config("capped", 5, {"federation.mode=centralized", "client.max_steps=2"}), nullptr);
  for (const auto& row : lines_of(capped.run_dir / "metrics.jsonl"))
    if (row["round"] != 0) EXPECT_EQ(row["examples"], 6) << row.dump();

  // Same seed, same metrics; another seed, others. Thread count does not matter.
  const auto again = sim::run_simulation(t.config("central2", 5, {"federation.mode=centralized", "run.threads=1"}), nullptr);
  EXPECT_EQ(lines_of(again.run_dir / "metrics.jsonl"), rows);
  const auto other = sim::run_simulation(t.config("central3", 6, {"federation.mode=centralized"}), nullptr);
  EXPECT_NE(lines_of(other.run_dir / "metrics.jsonl"), rows);

  // The federated run of the same job starts from the same θ_0 and evaluation, and both
  // runs read as curves for `fedlora-sim plot`.
  const auto fed = sim::run_simulation(t.config("fed", 5), nullptr);
  EXPECT_EQ(lines_of(fed.run_dir / "metrics.jsonl")[0], rows[0]);
  EXPECT_EQ(sim::read_run_curve(fed.run_dir).round, sim::read_run_curve(s.run_dir).round);

  EXPECT_THROW(sim::run_simulation(cfg, nullptr, {true}), sim::ResumeError);
}

json without_wall(json j) {
  j.erase("wall_s");
  return j;
}

TEST(Personalization, OneEntryPerEvalUserAndTheSameNumbersForTheSameSeed) {
  BaselineRun t;
  const auto a = sim::run_simulation(t.config("pa", 5, {"federation.personalize_steps=3"}), nullptr);
  const auto ja = json::parse(std::ifstream(a.run_dir / "personalization.json"));
  ASSERT_EQ(ja["per_user"].size(), 3u);
  EXPECT_EQ(ja["users"], 3);
  int improved = 0;
  std::vector<std::string> ids;
  for (const auto& u : ja["per_user"]) {
    EXPECT_EQ(u["steps"], 3) << u.dump();  // exactly N, also for the 1-window user
    ids.push_back(u["user"]);
    improved += u["after"]["loss"].get<double>() < u["before"]["loss"].get<double>();
  }
  std::sort(ids.begin(), ids.end());
  EXPECT_EQ(ids, (std::vector<std::string>{"user0", "user1", "user2"}));
  EXPECT_EQ(ja["improved"], improved);
  EXPECT_GT(improved, 0);  // 3 steps of lr 0.01 on the user's own style
  // "before" is the final global adapter: pooled, exactly the run's last evaluation.
  EXPECT_DOUBLE_EQ(ja["pooled"]["before"]["loss"].get<double>(), a.after.loss);
  EXPECT_DOUBLE_EQ(ja["pooled"]["before"]["accuracy"].get<double>(), a.after.accuracy);
  const auto summary = json::parse(std::ifstream(a.run_dir / "summary.json"));
  EXPECT_EQ(summary["config"]["federation.personalize_steps"], "3");
  EXPECT_EQ(summary["personalization"]["improved"], improved);
  EXPECT_FALSE(summary["personalization"].contains("per_user"));

  // Same seed on one thread: identical numbers (wall time aside); another seed: others.
  const auto b = sim::run_simulation(t.config("pb", 5, {"federation.personalize_steps=3", "run.threads=1"}), nullptr);
  EXPECT_EQ(without_wall(json::parse(std::ifstream(b.run_dir / "personalization.json"))), without_wall(ja));
  const auto c = sim::run_simulation(t.config("pc", 6, {"federation.personalize_steps=3"}), nullptr);
  EXPECT_NE(without_wall(json::parse(std::ifstream(c.run_dir / "personalization.json")))["per_user"], ja["per_user"]);

  // After a centralized run too.
  const auto d = sim::run_simulation(
      t.config("pd", 5, {"federation.mode=centralized", "federation.personalize_steps=2"}), nullptr);
  const auto jd = json::parse(std::ifstream(d.run_dir / "personalization.json"));
  EXPECT_EQ(jd["per_user"].size(), 3u);
  EXPECT_DOUBLE_EQ(jd["pooled"]["before"]["loss"].get<double>(), d.after.loss);
}

}  // namespace
}  // namespace fedlora
