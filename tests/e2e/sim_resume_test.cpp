// fedlora-sim run --resume against SIGKILL: the real binary is killed at seeded random
// moments and resumed until it finishes. After every kill, metrics.jsonl holds whole lines of
// contiguous rounds without duplicates and ε never goes backwards; at the end the metrics
// equal those of an uninterrupted run with the same seed.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "tests/e2e/tiny_model.h"

extern char** environ;

namespace fedlora {
namespace {
namespace fs = std::filesystem;
using nlohmann::json;

struct ResumeRun {
  fs::path dir = fs::temp_directory_path() / ("fedlora_resume_" + std::to_string(::getpid()));
  explicit ResumeRun(bool reproducible = true) {
    fs::remove_all(dir);
    fs::create_directories(dir);
    test::write_tiny_model(dir / "tiny.gguf", 3);
    std::ofstream users(dir / "users.jsonl");
    const char* styles[] = {"the cat sat on the mat", "to be or not to be", "abc abc def def", "one two three four"};
    for (int u = 0; u < 4; ++u)
      for (int i = 0; i < 8; ++i)
        users << json{{"user", "u" + std::to_string(u)}, {"text", std::string(styles[u]) + " " + std::to_string(i)}}.dump()
              << "\n";
    // User-level DP: seeded (a research run, reproducible metrics, no ε) or private (OS noise, ε).
    std::ofstream(dir / "run.toml") << "[run]\nseed = 5\nthreads = 1\nreproducible_noise = " << (reproducible ? "true" : "false")
                                    << "\noutput_dir = \""
                                    << dir.string() << "\"\n[model]\nbase = \"" << (dir / "tiny.gguf").string()
                                    << "\"\n[data]\nformat = \"jsonl\"\npath = \"" << (dir / "users.jsonl").string()
                                    << "\"\n[federation]\nrounds = 12\ncohort_size = 2\neval_every = 2\neval_users = 2\n"
                                       "[client]\nepochs = 1\nbatch_size = 4\nlr = 0.01\n[lora]\nrank = 2\nalpha = 4.0\n"
                                       "[user_dp]\nenabled = true\nnoise_multiplier = 0.5\nl2_norm_clip = 1.0\n";
  }
  ~ResumeRun() {
    if (!getenv("KEEP")) fs::remove_all(dir);
  }

  // Starts fedlora-sim; returns its pid.
  // `failpoint`: FEDLORA_FAILPOINT for the child (it SIGKILLs itself there), or "".
  pid_t start(const std::string& name, bool resume, const std::string& config = "run.toml",
              const std::string& failpoint = "") const {
    std::vector<std::string> args{std::string(FEDLORA_BIN_DIR) + "/fedlora-sim", "run", (dir / config).string(),
                                  "--name", name};
    if (resume) args.emplace_back("--resume");
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    const std::string log = (dir / (name + ".log")).string();
    posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&fa, STDOUT_FILENO, STDERR_FILENO);
    pid_t pid = -1;
    std::vector<std::string> env_strings;
    for (char** e = environ; *e != nullptr; ++e)
      if (std::strncmp(*e, "FEDLORA_FAILPOINT=", 18) != 0) env_strings.emplace_back(*e);
    if (!failpoint.empty()) env_strings.push_back("FEDLORA_FAILPOINT=" + failpoint);
    std::vector<char*> envp;
    for (auto& e : env_strings) envp.push_back(e.data());
    envp.push_back(nullptr);
    EXPECT_EQ(posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), envp.data()), 0);
    posix_spawn_file_actions_destroy(&fa);
    return pid;
  }
  // Starts fedlora-sim with every file it writes limited to `max_file_bytes` (RLIMIT_FSIZE,
  // SIGXFSZ ignored): a write past the limit fails with EFBIG, as on a full disk.
  pid_t start_with_file_limit(const std::string& name, const std::string& config, rlim_t max_file_bytes) const {
    const std::string bin = std::string(FEDLORA_BIN_DIR) + "/fedlora-sim";
    const std::string cfg = (dir / config).string(), log = (dir / (name + ".log")).string();
    const pid_t pid = fork();
    if (pid == 0) {
      const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      ::dup2(fd, STDOUT_FILENO);
      ::dup2(fd, STDERR_FILENO);
      ::signal(SIGXFSZ, SIG_IGN);
      const rlimit lim{max_file_bytes, max_file_bytes};
      ::setrlimit(RLIMIT_FSIZE, &lim);
      ::execl(bin.c_str(), bin.c_str(), "run", cfg.c_str(), "--name", name.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
    return pid;
  }
  static int wait_exit(pid_t pid) {
    int status = 0;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
};

std::vector<json> metrics_rows(const fs::path& file) {
  std::vector<json> rows;
  std::ifstream in(file);
  for (std::string line; std::getline(in, line);) {
    json j = json::parse(line, nullptr, /*allow_exceptions=*/false);
    EXPECT_FALSE(j.is_discarded()) << "torn line in " << file << ": " << line;
    if (!j.is_discarded()) rows.push_back(j);
  }
  return rows;
}

// Whole lines, rounds 0, 1, 2, ... without gaps or repeats, and ε non-decreasing.
void expect_consistent(const std::vector<json>& rows, const std::string& when) {
  double eps = 0.0;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    EXPECT_EQ(rows[i].value("round", -1), static_cast<int>(i)) << when;
    const auto e_ptr = json::json_pointer("/user_dp/epsilon/released_model/epsilon");
    if (rows[i].contains(e_ptr) && rows[i][e_ptr].is_number()) {
      const double e = rows[i][e_ptr].get<double>();
      EXPECT_GE(e, eps) << when << ": epsilon went backwards at round " << i;
      eps = e;
    }
  }
}

std::vector<json> without_timing(std::vector<json> rows) {
  for (auto& r : rows) {  // host measures
    r.erase("wall_s");
    r.erase("peak_rss_mb");
  }
  return rows;
}

// Kills the run with SIGKILL and resumes it until it finishes by itself; checks the files
// after every kill. The first attempts die at the simulator's failpoints (before a round,
// between a checkpoint and its metrics line, after the line), the later ones after a random
// delay in [50 ms, 1.2 × the run's time]. Returns the number of kills.
int kill_and_resume_until_done(const ResumeRun& t, const std::string& name, std::mt19937_64& rng,
                               std::chrono::milliseconds run_time) {
  static const char* kFailpoints[] = {"sim_round_started", "sim_checkpoint_written", "sim_metrics_appended"};
  int kills = 0;
  for (int attempt = 0; attempt < 60; ++attempt) {
    const bool at_failpoint = attempt < 6;
    // After 24 random kills the run may finish: on a loaded machine a resumed run can be
    // slower than the reference was, and random delays alone might then never let it end.
    const bool let_finish = attempt >= 30;
    const pid_t pid = t.start(name, attempt > 0, "run.toml", at_failpoint ? kFailpoints[attempt % 3] : "");
    const auto delay = at_failpoint || let_finish
                           ? std::chrono::milliseconds(600'000)
                           : std::chrono::milliseconds(50 + rng() % (run_time.count() * 12 / 10 + 1));
    const auto t0 = std::chrono::steady_clock::now();
    int status = 0;
    pid_t done = 0;
    while ((done = waitpid(pid, &status, WNOHANG)) == 0 && std::chrono::steady_clock::now() - t0 < delay)
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    if (done == 0) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
    }
    if (WIFEXITED(status)) {
      EXPECT_EQ(WEXITSTATUS(status), 0) << "see " << (t.dir / (name + ".log"));
      return kills;
    }
    EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    ++kills;
    if (fs::exists(t.dir / name / "metrics.jsonl"))
      expect_consistent(metrics_rows(t.dir / name / "metrics.jsonl"), name + " after kill " + std::to_string(kills));
  }
  ADD_FAILURE() << name << " never finished";
  return kills;
}

TEST(SimResume, SigkillAtRandomMomentsThenResumeGivesTheUninterruptedMetrics) {
  ResumeRun t;
  const auto t0 = std::chrono::steady_clock::now();
  ASSERT_EQ(ResumeRun::wait_exit(t.start("reference", false)), 0);
  const auto run_time = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0);
  const auto reference = without_timing(metrics_rows(t.dir / "reference" / "metrics.jsonl"));
  ASSERT_EQ(reference.size(), 13u);  // round 0 (base evaluation) and 12 rounds

  std::mt19937_64 rng(20261203);
  int resumed_mid_run = 0;  // a kill after a checkpoint must resume from it, not start over
  for (int trial = 0; trial < 3; ++trial) {
    const std::string name = "killed" + std::to_string(trial);
    const int kills = kill_and_resume_until_done(t, name, rng, run_time);
    EXPECT_GE(kills, 6) << name;
    const auto rows = metrics_rows(t.dir / name / "metrics.jsonl");
    expect_consistent(rows, name + " at the end");
    EXPECT_EQ(without_timing(rows), reference) << name << " after " << kills << " kills";
    std::ifstream log(t.dir / (name + ".log"));
    const std::string out((std::istreambuf_iterator<char>(log)), {});
    for (std::size_t at = out.find("resuming after round "); at != std::string::npos;
         at = out.find("resuming after round ", at + 1))
      if (out.compare(at + 21, 2, "0 ") != 0) ++resumed_mid_run;
  }
  EXPECT_GE(resumed_mid_run, 3 * 5);  // at least every failpoint kill after the first
}

TEST(SimResume, PrivateRunKilledAndResumedKeepsItsEpsilonAccount) {
  ResumeRun t(/*reproducible=*/false);
  std::mt19937_64 rng(7);
  const auto t0 = std::chrono::steady_clock::now();
  ASSERT_EQ(ResumeRun::wait_exit(t.start("private_reference", false)), 0);
  const auto run_time = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0);
  EXPECT_GE(kill_and_resume_until_done(t, "private", rng, run_time), 6);
  const auto rows = metrics_rows(t.dir / "private" / "metrics.jsonl");
  ASSERT_EQ(rows.size(), 13u);
  expect_consistent(rows, "private run at the end");
  // The released-model ε depends only on q, z and the number of rounds: an uninterrupted
  // private run ends at the same figure.
  const auto ref = metrics_rows(t.dir / "private_reference" / "metrics.jsonl");
  const auto e_ptr = json::json_pointer("/user_dp/epsilon/released_model/epsilon");
  ASSERT_TRUE(rows.back().contains(e_ptr) && rows.back()[e_ptr].is_number()) << rows.back().dump();
  EXPECT_DOUBLE_EQ(rows.back()[e_ptr].get<double>(), ref.back()[e_ptr].get<double>());
}

TEST(SimResume, AFullDiskStopsTheRunWithAnErrorAndNoTornCheckpoint) {
  ResumeRun t;
  ASSERT_EQ(ResumeRun::wait_exit(t.start("reference", false)), 0);
  const auto reference = without_timing(metrics_rows(t.dir / "reference" / "metrics.jsonl"));
  // Files may hold 4 KB: the first checkpoint's adapter (about 15 KB) cannot be written.
  const pid_t pid = t.start_with_file_limit("full", "run.toml", 4096);
  EXPECT_NE(ResumeRun::wait_exit(pid), 0);
  std::ifstream log(t.dir / "full.log");
  const std::string out((std::istreambuf_iterator<char>(log)), {});
  EXPECT_NE(out.find("File too large"), std::string::npos) << out;  // strerror(EFBIG), with the file
  // No checkpoint under its final name, and nothing a resume would take for one.
  if (fs::exists(t.dir / "full" / "checkpoints"))
    for (const auto& e : fs::directory_iterator(t.dir / "full" / "checkpoints"))
      EXPECT_NE(e.path().filename().string().rfind("round-", 0), 0u) << "a checkpoint survived: " << e.path();
  if (fs::exists(t.dir / "full" / "metrics.jsonl")) expect_consistent(metrics_rows(t.dir / "full" / "metrics.jsonl"), "full");
  // With space again, --resume starts over (there is no good checkpoint) and gives the uninterrupted result.
  EXPECT_EQ(ResumeRun::wait_exit(t.start("full", true)), 0);
  const auto rows = metrics_rows(t.dir / "full" / "metrics.jsonl");
  expect_consistent(rows, "after resume");
  EXPECT_EQ(without_timing(rows), reference);
}

TEST(SimResume, ResumeRefusesAChangedConfigAndAReadOnlyFolderIsNamed) {
  ResumeRun t;
  ASSERT_EQ(ResumeRun::wait_exit(t.start("a", false)), 0);
  // A different learning rate: the checkpoint's config differs, --resume names the key.
  {
    std::string text;
    std::ifstream in(t.dir / "run.toml");
    text.assign(std::istreambuf_iterator<char>(in), {});
    text.replace(text.find("lr = 0.01"), 9, "lr = 0.02");
    std::ofstream(t.dir / "run.toml") << text;
  }
  EXPECT_NE(ResumeRun::wait_exit(t.start("a", true)), 0);
  std::ifstream log(t.dir / "a.log");
  const std::string out((std::istreambuf_iterator<char>(log)), {});
  EXPECT_NE(out.find("client.lr"), std::string::npos) << out;

  if (::geteuid() == 0) GTEST_SKIP() << "running as root: a read-only folder does not stop root's writes";
  fs::create_directories(t.dir / "ro");
  ::chmod((t.dir / "ro").c_str(), 0555);
  std::string text;
  {
    std::ifstream in(t.dir / "run.toml");
    text.assign(std::istreambuf_iterator<char>(in), {});
  }
  text.replace(text.find("output_dir = \""), 14, "output_dir = \"" + (t.dir / "ro").string() + "/");
  std::ofstream(t.dir / "ro.toml") << text;
  EXPECT_NE(ResumeRun::wait_exit(t.start("b", false, "ro.toml")), 0);
  std::ifstream blog(t.dir / "b.log");
  const std::string bout((std::istreambuf_iterator<char>(blog)), {});
  EXPECT_NE(bout.find("not writable"), std::string::npos) << bout;
  ::chmod((t.dir / "ro").c_str(), 0755);
}

}  // namespace
}  // namespace fedlora
