// fedlora-privacy CLI: published numbers end to end, JSON output, --help on every
// subcommand, one-line errors on stderr with a non-zero exit code.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "privacy/ledger/privacy_ledger.h"

namespace {

struct CliRun {
  int exit_code;
  std::string out, err;
};

CliRun run(const std::string& args) {
  const std::string err_file = "/tmp/fedlora-privacy-cli-test-" + std::to_string(::getpid());
  const std::string cmd = std::string(FEDLORA_PRIVACY_CLI) + " " + args + " 2>" + err_file;
  CliRun r{-1, {}, {}};
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) return r;
  std::array<char, 4096> buf{};
  std::size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  const int status = ::pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::ifstream e(err_file);
  std::stringstream ss;
  ss << e.rdbuf();
  r.err = ss.str();
  std::filesystem::remove(err_file);
  return r;
}

const std::string kTfOrders =
    "1.25,1.5,1.75,2,2.25,2.5,3,3.5,4,4.5,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,"
    "24,25,26,27,28,29,30,31,32,33,34,35,36,37,38,39,40,41,42,43,44,45,46,47,48,49,50,51,52,"
    "53,54,55,56,57,58,59,60,61,62,63,128,256,512";

TEST(PrivacyCli, EpsilonJsonReproducesTfPrivacy) {
  const CliRun r = run("epsilon --noise-multiplier 1.3 --sample-rate 0.0025 --steps 6000 "
                    "--delta 1e-5 --json --orders " + kTfOrders);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_NEAR(j["epsilon"].get<double>(), 0.7242234026109595, 1e-9);
  EXPECT_EQ(j["optimal_order"].get<double>(), 19.0);
  EXPECT_TRUE(r.err.empty());
}

TEST(PrivacyCli, EpsilonTextMentionsValueAndOrder) {
  const CliRun r = run("epsilon -s 1.0 -q 0.001 -T 30000 -d 1e-7 --orders " + kTfOrders);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("1.41549885"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("order 13"), std::string::npos) << r.out;
}

TEST(PrivacyCli, EpsilonWithPldAccountant) {
  const CliRun r = run("epsilon -s 0.7 -q 1 -T 2 -d 1e-5 --accountant pld --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_NEAR(j["epsilon"].get<double>(), 10.1224946, 5e-7);  // dp_accounting's PLD value
  EXPECT_TRUE(j["optimal_order"].is_null());
  EXPECT_NE(run("epsilon -s 0.7 -q 1 -T 2 -d 1e-5 --accountant bogus").exit_code, 0);
}

TEST(PrivacyCli, NoiseFindsSigmaByBisection) {
  const CliRun r = run("noise --epsilon 0.7242234026109595 --delta 1e-5 --sample-rate 0.0025 "
                    "--steps 6000 --json --orders " + kTfOrders);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_NEAR(j["noise_multiplier"].get<double>(), 1.3, 1e-5);
  EXPECT_LE(j["epsilon"].get<double>(), 0.7242234026109595);
}

TEST(PrivacyCli, HelpOnEverySubcommand) {
  for (const char* sub : {"", "epsilon ", "noise ", "ledger "}) {
    const CliRun r = run(std::string(sub) + "--help");
    EXPECT_EQ(r.exit_code, 0) << sub;
    EXPECT_NE(r.out.find("Usage"), std::string::npos) << sub;
  }
}

TEST(PrivacyCli, ErrorsAreOneLineOnStderrWithNonZeroExit) {
  for (const std::string& args :
       {std::string("epsilon -s 1 -q 2 -T 3 -d 1e-5"), std::string("epsilon -s 1"),
        std::string("epsilon -s 1 -q 0.1 -T 3 -d 1e-5 --orders 2,0.5"),
        std::string("epsilon -s 1 -q 0.1 -T 3 -d 1e-5 --orders 2,,3"),
        std::string("noise -e -1 -d 1e-5 -q 0.1 -T 10"), std::string("bogus"), std::string(""),
        std::string("ledger --path /nonexistent/x.sqlite --device a")}) {
    const CliRun r = run(args);
    EXPECT_NE(r.exit_code, 0) << args;
    EXPECT_TRUE(r.out.empty()) << args;
    ASSERT_FALSE(r.err.empty()) << args;
    EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << args << ": " << r.err;
    EXPECT_EQ(r.err.rfind("fedlora-privacy: error: ", 0), 0u) << r.err;
  }
}

TEST(PrivacyCli, LedgerShowsSpentBudget) {
  const std::string path = "/tmp/fedlora-privacy-cli-ledger-" + std::to_string(::getpid());
  std::filesystem::remove(path);
  {
    auto ledger = fedlora::privacy::PrivacyLedger::open(path);
    ledger.ensure_device("dev-1", {4.0, 1e-5});
    ASSERT_TRUE(ledger.spend("dev-1", 100, 0.01, 1.0).accepted());
  }
  const CliRun r = run("ledger --path " + path + " --device dev-1 --json");
  std::filesystem::remove(path);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["steps"].get<int>(), 100);
  EXPECT_EQ(j["epsilon_budget"].get<double>(), 4.0);
  EXPECT_GT(j["epsilon_spent"].get<double>(), 0.0);
}

}  // namespace
