// fedlora-sim compare: rounds and bytes to a target accuracy, on metrics written by hand.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>

#include "simulator/report/compare_runs.h"
#include "tests/support/temp_dir.h"

namespace fs = std::filesystem;
using namespace fedlora::sim;

namespace {

// Rounds 0..4, evaluated at 0, 2 and 4; 1000 bytes up per trained round, 2 s each.
const char* kRows =
    R"({"round": 0, "bytes_up": 0, "wall_s": 1.0, "eval": {"accuracy": 0.10, "loss": 6.0, "perplexity": 403.4}})" "\n"
    R"({"round": 1, "bytes_up": 1000, "wall_s": 2.0})" "\n"
    R"({"round": 2, "bytes_up": 1000, "wall_s": 2.0, "eval": {"accuracy": 0.21, "loss": 5.0, "perplexity": 148.4,
        "next_word": {"top1": 0.05, "top3": 0.12, "positions": 200}}})" "\n"
    R"({"round": 3, "bytes_up": 1000, "wall_s": 2.0})" "\n"
    R"({"round": 4, "bytes_up": 1000, "wall_s": 2.0, "eval": {"accuracy": 0.25, "loss": 4.5, "perplexity": 90.0,
        "next_word": {"top1": 0.07, "top3": 0.15, "positions": 200}}})" "\n";

RunCurve curve() {
  static fedlora::test::TempDir dir;
  fs::create_directories(dir / "run");
  std::string rows = kRows;
  // JSON Lines: one object per line.
  for (size_t p; (p = rows.find("\n        ")) != std::string::npos;) rows.erase(p, 9);
  std::ofstream(dir / "run" / "metrics.jsonl") << rows;
  return read_run_curve(dir / "run");
}

TEST(CompareRuns, RoundsAndBytesToTheFirstEvaluationAtTheTarget) {
  const auto c = curve();
  EXPECT_EQ(c.bytes_up, (std::vector<double>{0, 2000, 4000}));  // summed over every row, evaluated or not
  EXPECT_EQ(c.wall_s, (std::vector<double>{1, 5, 9}));
  const auto r = compare_row(c, 0.20);
  EXPECT_EQ(r.last_round, 4);
  EXPECT_DOUBLE_EQ(r.accuracy, 0.25);
  EXPECT_DOUBLE_EQ(r.perplexity, 90.0);
  EXPECT_DOUBLE_EQ(r.next_word_top3, 0.15);
  EXPECT_DOUBLE_EQ(r.bytes_up, 4000);
  ASSERT_TRUE(r.rounds_to_target.has_value());
  EXPECT_EQ(*r.rounds_to_target, 2);  // 0.21 ≥ 0.20 at round 2, the first evaluated one
  EXPECT_EQ(*r.bytes_to_target, 2000);
  EXPECT_FALSE(compare_row(c, 0.30).rounds_to_target.has_value());
  EXPECT_THROW(compare_row(c, 1.5), std::invalid_argument);
}

TEST(CompareRuns, MarkdownHasOneRowPerRunAndSaysWhenTheTargetIsMissed) {
  const auto c = curve();
  const auto md = comparison_markdown({compare_row(c, 0.2), compare_row(c, 0.3)}, 0.3);
  EXPECT_NE(md.find("| run | rounds | accuracy"), std::string::npos) << md;
  EXPECT_NE(md.find("| run | 4 | 0.2500 | 90.00 | 0.070 | 0.150 | 0.0 |"), std::string::npos) << md;
  EXPECT_NE(md.find("not reached"), std::string::npos) << md;
  size_t lines = 0;
  for (char ch : md) lines += ch == '\n';
  EXPECT_EQ(lines, 4u);  // header, rule, two rows
}

}  // namespace

namespace {

// A run on the simulated clock: 1800 s per round, evaluated at rounds 0, 2 and 4.
TEST(CompareRuns, SimulatedHoursToTheTarget) {
  static fedlora::test::TempDir dir;
  fs::create_directories(dir / "clock");
  std::ofstream(dir / "clock" / "metrics.jsonl")
      << R"({"round": 0, "eval": {"accuracy": 0.10, "loss": 6.0}})" "\n"
      << R"({"round": 1, "sim_time_s": 1800})" "\n"
      << R"({"round": 2, "sim_time_s": 3600, "eval": {"accuracy": 0.21, "loss": 5.0}})" "\n"
      << R"({"round": 3, "sim_time_s": 5400})" "\n"
      << R"({"round": 4, "sim_time_s": 7200, "eval": {"accuracy": 0.25, "loss": 4.5}})" "\n";
  const auto c = read_run_curve(dir / "clock");
  ASSERT_EQ(c.sim_time_s.size(), 3u);
  EXPECT_TRUE(std::isnan(c.sim_time_s[0]));
  const auto r = compare_row(c, 0.2);
  EXPECT_DOUBLE_EQ(r.sim_time_s, 7200);
  ASSERT_TRUE(r.sim_s_to_target.has_value());
  EXPECT_DOUBLE_EQ(*r.sim_s_to_target, 3600);
  const auto md = comparison_markdown({r}, 0.2);
  EXPECT_NE(md.find("simulated min to 0.200"), std::string::npos) << md;
  EXPECT_NE(md.find("| 120.0 | 60.0 |"), std::string::npos) << md;
  // Runs without a clock keep the table as it was.
  EXPECT_EQ(comparison_markdown({compare_row(curve(), 0.2)}, 0.2).find("simulated"), std::string::npos);
}

}  // namespace
