// fedlora-sim plot: reads the evaluated rounds of runs and draws them with gnuplot; says so
// and draws nothing without gnuplot; names the file and line of a bad metrics.jsonl.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>

#include "simulator/report/plot_runs.h"
#include "tests/support/temp_dir.h"

namespace fs = std::filesystem;
using namespace fedlora::sim;

namespace {

void write_run(const fs::path& dir, const std::string& body) {
  fs::create_directories(dir);
  std::ofstream(dir / "metrics.jsonl") << body;
}

const char* kRows =
    R"({"round": 0, "eval": {"accuracy": 0.10, "loss": 6.0}})" "\n"
    R"({"round": 1, "train_loss": 5.5})" "\n"
    R"({"round": 2, "eval": {"accuracy": 0.20, "loss": 5.0}})" "\n";

TEST(PlotRuns, ReadsOnlyTheEvaluatedRounds) {
  fedlora::test::TempDir dir;
  write_run(dir / "a", kRows);
  const auto c = read_run_curve(dir / "a");
  EXPECT_EQ(c.label, "a");
  EXPECT_EQ(c.round, (std::vector<double>{0, 2}));
  EXPECT_EQ(c.accuracy, (std::vector<double>{0.10, 0.20}));
  EXPECT_EQ(c.loss, (std::vector<double>{6.0, 5.0}));
}

TEST(PlotRuns, BadFilesAreNamedWithTheirLine) {
  fedlora::test::TempDir dir;
  write_run(dir / "torn", std::string(kRows) + "{\"round\": 3, \"ev");
  try {
    read_run_curve(dir / "torn");
    FAIL();
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("metrics.jsonl:4"), std::string::npos) << e.what();
  }
  write_run(dir / "none", R"({"round": 1, "train_loss": 5.5})" "\n");
  EXPECT_THROW(read_run_curve(dir / "none"), std::runtime_error);
  EXPECT_THROW(read_run_curve(dir / "missing"), std::runtime_error);
}

TEST(PlotRuns, DrawsAPngOfSeveralRunsWithGnuplot) {
  if (std::system("command -v gnuplot > /dev/null 2>&1") != 0) GTEST_SKIP() << "gnuplot is not installed";
  fedlora::test::TempDir dir;
  write_run(dir / "a", kRows);
  write_run(dir / "b", kRows);
  const auto r = plot_runs({dir / "a", dir / "b"}, dir / "out.png");
  ASSERT_TRUE(r.drawn) << r.message;
  std::ifstream png(dir / "out.png", std::ios::binary);
  char magic[8] = {};
  png.read(magic, 8);
  EXPECT_EQ(std::string(magic, 8), std::string("\x89PNG\r\n\x1a\n", 8));
  EXPECT_GT(fs::file_size(dir / "out.png"), 5000u);
}

TEST(PlotRuns, WithoutGnuplotItSaysSoAndDrawsNothing) {
  fedlora::test::TempDir dir;
  write_run(dir / "a", kRows);
  const std::string path = std::getenv("PATH") ? std::getenv("PATH") : "";
  ::setenv("PATH", dir.path().c_str(), 1);  // a folder without gnuplot
  const auto r = plot_runs({dir / "a"}, dir / "out.png");
  ::setenv("PATH", path.c_str(), 1);
  EXPECT_FALSE(r.drawn);
  EXPECT_NE(r.message.find("gnuplot"), std::string::npos);
  EXPECT_FALSE(fs::exists(dir / "out.png"));
}

}  // namespace
