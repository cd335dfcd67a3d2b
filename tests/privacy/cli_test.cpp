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

// The project's DP config (z = 1.5, 40 rounds, δ = 247^−1.1): the amplified figure keeps
// its place; the coordinator's figures (no amplification) match the mpmath reference
// (tests/privacy/reference/coordinator_epsilon_mpmath.py): 16 participations → 11.6093112602573
// (RDP) / 10.4241306104781 (exact); 40 → 22.0297454155195 / 20.0568428893756.
TEST(PrivacyCli, EpsilonNamesBothAdversaries) {
  const CliRun r = run("epsilon -s 1.5 -q 0.4 -T 40 -d 0.002333637265835952 "
                       "--max-participations 16 --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["released_model"]["epsilon"].get<double>(), j["epsilon"].get<double>());
  EXPECT_NE(j["released_model"]["assumption"].get<std::string>().find("secret"),
            std::string::npos);
  const auto& c = j["coordinator"];
  EXPECT_DOUBLE_EQ(c["expected"]["participations"].get<double>(), 16.0);
  EXPECT_NEAR(c["expected"]["epsilon"].get<double>(), 11.6093112602573, 1e-9);
  EXPECT_NEAR(c["expected"]["epsilon_exact"].get<double>(), 10.4241306104781, 1e-9);
  EXPECT_NEAR(c["every_round"]["epsilon"].get<double>(), 22.0297454155195, 1e-9);
  EXPECT_NEAR(c["every_round"]["epsilon_exact"].get<double>(), 20.0568428893756, 1e-9);
  EXPECT_NEAR(c["capped"]["epsilon"].get<double>(), 11.6093112602573, 1e-9);
  EXPECT_LT(j["epsilon"].get<double>(), c["expected"]["epsilon"].get<double>());
  // Without a cap the capped figure is null; the PLD accountant reports the same coordinator view.
  const CliRun p = run("epsilon -s 1.5 -q 0.4 -T 40 -d 0.002333637265835952 --accountant pld --json");
  ASSERT_EQ(p.exit_code, 0) << p.err;
  const auto jp = nlohmann::json::parse(p.out);
  EXPECT_TRUE(jp["coordinator"]["capped"].is_null());
  EXPECT_NEAR(jp["coordinator"]["every_round"]["epsilon_exact"].get<double>(), 20.0568428893756, 1e-9);
}

TEST(PrivacyCli, EpsilonTextStatesTheAssumptions) {
  const CliRun r = run("epsilon -s 1.5 -q 0.4 -T 40 -d 0.002333637265835952 --max-participations 20");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("cohort membership stays secret"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("against the coordinator"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("q*T = 16:"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("22.0297"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("--max-participations 20"), std::string::npos) << r.out;
}

// DP-FTRL, StackOverflow setting of Kairouz et al. 2021 as in TF Privacy's
// tree_aggregation_accountant_test.py (test_compute_eps_tree): 1600 steps, one tree,
// δ = 1e-6, σ = 1.13 → ε < 19.74 (mpmath: 18.7096098937728 by RDP, 17.6667507612066 exact;
// tests/privacy/reference/tree_epsilon_mpmath.py).
TEST(PrivacyCli, DpFtrlStackOverflowSetting) {
  std::string tf_tree_orders;
  for (int x = 1; x < 100; ++x) tf_tree_orders += std::to_string(1 + x / 10.0) + ",";
  for (int a = 12; a < 64; ++a) tf_tree_orders += std::to_string(a) + (a < 63 ? "," : "");
  const CliRun r = run("epsilon --mechanism dp_ftrl -s 1.13 -T 1600 -d 1e-6 --json --orders " +
                       tf_tree_orders);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_LT(j["epsilon"].get<double>(), 19.74);
  EXPECT_NEAR(j["epsilon"].get<double>(), 18.7096098937728, 1e-9);
  EXPECT_NEAR(j["epsilon_exact"].get<double>(), 17.6667507612066, 1e-9);
  EXPECT_EQ(j["sensitivity_square_sum"].get<int>(), 11);  // depth of a 1600-leaf tree
}

TEST(PrivacyCli, DpFtrlRestartsAndParticipations) {
  // 40 rounds, a tree every 10: four trees of depth 4, Σc² = 16 — the same Gaussian as 16
  // participations (11.6093112602573 at the project δ).
  const CliRun r = run("epsilon --mechanism dp_ftrl -s 1.5 -T 40 -d 0.002333637265835952 "
                       "--restart-every 10 --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["trees"], nlohmann::json::array({10, 10, 10, 10}));
  EXPECT_EQ(j["sensitivity_square_sum"].get<int>(), 16);
  EXPECT_NEAR(j["epsilon"].get<double>(), 11.6093112602573, 1e-9);
  // TF Privacy's toy value: 24 leaves, P = 8, B = 2 → Σc² = 88.
  const CliRun m = run("epsilon --mechanism dp_ftrl -s 2 -T 24 -d 1e-5 --max-participations 8 "
                       "--min-separation 2 --json");
  ASSERT_EQ(m.exit_code, 0) << m.err;
  EXPECT_EQ(nlohmann::json::parse(m.out)["sensitivity_square_sum"].get<int>(), 88);
  const CliRun t = run("epsilon --mechanism dp_ftrl -s 1.5 -T 40 -d 1e-5");
  ASSERT_EQ(t.exit_code, 0) << t.err;
  EXPECT_NE(t.out.find("DP-FTRL"), std::string::npos) << t.out;
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
        std::string("epsilon -s 1 -T 3 -d 1e-5"),  // sampled mechanism without --sample-rate
        std::string("epsilon -s 1 -q 0.1 -T 3 -d 1e-5 --max-participations -1"),
        std::string("epsilon -s 1 -q 0.1 -T 3 -d 1e-5 --restart-every 2"),
        std::string("epsilon --mechanism dp_ftrl -s 1 -q 0.1 -T 3 -d 1e-5"),
        std::string("epsilon --mechanism dp_ftrl -s 1 -T 3 -d 1e-5 --accountant pld"),
        std::string("epsilon --mechanism dp_ftrl -s 1 -T 3 -d 1e-5 --max-participations 0"),
        std::string("epsilon --mechanism dp_ftrl -s 1 -T 0 -d 1e-5"),
        std::string("epsilon --mechanism bogus -s 1 -T 3 -d 1e-5"),
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
