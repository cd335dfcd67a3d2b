// One simulation in 2 and 3 processes (fedlora-sim --world-size N on loopback: c10d TCPStore
// + Gloo) gives the metrics of the one-process run with the same seed: exactly with SecAgg
// (the masked words are summed across ranks modulo 2^w), within 1e-6 without (float64 plain
// sums grouped by rank). With three users and three ranks every rank hosts one device.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "simulator/run/simulation.h"
#include "tests/e2e/loopback_port.h"
#include "tests/e2e/tiny_run.h"

extern char** environ;

namespace fedlora {
namespace {

pid_t spawn(const std::vector<std::string>& args, const fs::path& log) {
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  return rc == 0 ? pid : -1;
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  return {std::istreambuf_iterator<char>(in), {}};
}

// Runs the job in `world` processes; returns rank 0's run folder. Every rank must exit 0.
fs::path run_ranks(const TinyRun& t, const std::string& name, std::uint64_t seed, const std::vector<std::string>& extra,
                   int world) {
  const std::string master = "127.0.0.1:" + std::to_string(test::free_port());
  std::vector<pid_t> pids;
  for (int r = 0; r < world; ++r) {
    std::vector<std::string> args{std::string(FEDLORA_BIN_DIR) + "/fedlora-sim", "run", (t.dir / "tiny.toml").string(),
                                  "--name", name, "--world-size", std::to_string(world), "--rank", std::to_string(r),
                                  "--master", master, "--rank-timeout", "120"};
    for (const auto& s : t.sets(seed, extra)) {
      args.push_back("--set");
      args.push_back(s);
    }
    pids.push_back(spawn(args, t.dir / (name + ".rank" + std::to_string(r) + ".log")));
    EXPECT_GT(pids.back(), 0);
  }
  for (int r = 0; r < world; ++r) {
    int status = 0;
    ::waitpid(pids[static_cast<std::size_t>(r)], &status, 0);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
        << "rank " << r << " failed:\n"
        << slurp(t.dir / (name + ".rank" + std::to_string(r) + ".log"));
  }
  return t.dir / name;
}

TEST(MultiRank, TwoAndThreeRanksGiveTheOneProcessMetrics) {
  TinyRun t;
  // secure: members spread by load; dp_sgd: each device pinned to rank id mod N, where its
  // ledger lives.
  for (const std::string arm : {"secure", "plain", "dp_sgd"}) {
    // Dropouts and a SecAgg threshold below n exercise silent members on every rank.
    std::vector<std::string> extra{"federation.rounds=3", "federation.dropout_rate=0.2"};
    if (arm == "secure")
      for (const char* x : {"secagg.enabled=true", "secagg.graph=complete", "secagg.threshold=2"}) extra.emplace_back(x);
    if (arm == "dp_sgd")
      for (const char* x : {"dp_sgd.enabled=true", "dp_sgd.epsilon=1000", "run.reproducible_noise=true"}) extra.emplace_back(x);
    const auto one = sim::run_simulation(t.config("one-" + arm, 5, extra), nullptr);
    const auto a = metrics_without_timing(one.run_dir);
    ASSERT_EQ(a.size(), 4u);
    for (int world : {2, 3}) {
      if (arm == "dp_sgd" && world == 3) continue;
      SCOPED_TRACE(arm + ", " + std::to_string(world) + " ranks");
      const auto dir = run_ranks(t, "multi" + std::to_string(world) + "-" + arm, 5, extra, world);
      const auto b = metrics_without_timing(dir);
      if (arm == "secure") {
        EXPECT_EQ(a, b);
      } else {
        expect_same_metrics(a, b, 1e-6);
        for (std::size_t r = 0; r < a.size(); ++r)
          for (const char* key : {"dropped", "rejected_updates", "bytes_up", "bytes_down", "sim_round_s",
                                  "refused_devices", "devices_out_of_budget"}) {
            if (a[r].contains(key)) {
              EXPECT_EQ(a[r][key], b[r][key]) << "round " << r << " " << key;
            }
          }
      }
      if (arm == "dp_sgd") {
        EXPECT_TRUE(fs::exists(dir / "privacy_ledger-rank1.sqlite"));
      }
    }
  }
}

// Rank 0 refuses what one process must run, before any rank waits for it.
TEST(MultiRank, RefusesWhatRunsInOneProcessOnly) {
  TinyRun t;
  EXPECT_THROW(sim::refuse_for_ranks(t.config("c", 1, {"federation.mode=\"centralized\""}), false), sim::ConfigError);
  EXPECT_THROW(sim::refuse_for_ranks(t.config("f", 1, {"server.mode=\"fedbuff\""}), false), sim::ConfigError);
  EXPECT_THROW(sim::refuse_for_ranks(t.config("r", 1), true), sim::ConfigError);
  EXPECT_NO_THROW(sim::refuse_for_ranks(t.config("ok", 1, {"secagg.enabled=true"}), false));
}

// A rank whose peers never come stops with an error naming the master, not a hang.
TEST(MultiRank, ALonelyRankFailsWithinItsTimeout) {
  TinyRun t;
  const std::string master = "127.0.0.1:" + std::to_string(test::free_port());
  std::vector<std::string> args{std::string(FEDLORA_BIN_DIR) + "/fedlora-sim", "run", (t.dir / "tiny.toml").string(),
                                "--name", "lonely", "--world-size", "2", "--rank", "1", "--master", master,
                                "--rank-timeout", "3"};
  for (const auto& s : t.sets(1)) {
    args.push_back("--set");
    args.push_back(s);
  }
  const pid_t pid = spawn(args, t.dir / "lonely.log");
  int status = 0;
  ::waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 1);
  const std::string log = slurp(t.dir / "lonely.log");
  EXPECT_NE(log.find(master), std::string::npos) << log;
}

}  // namespace
}  // namespace fedlora
