// Privacy ledger: budget refusal that survives restarts, spending that survives a killed
// process, no lost updates across processes, and corruption that is reported, never reset.
#include "privacy/ledger/privacy_ledger.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "privacy/accounting/rdp_accountant.h"
#include "privacy/errors.h"

namespace fedlora::privacy {
namespace {

namespace fs = std::filesystem;

class LedgerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/fedlora-privacy-ledger-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    path_ = dir_ / "ledger.sqlite";
  }
  void TearDown() override { fs::remove_all(dir_); }

  // ε of `steps` steps at (q, σ) in one block, at δ = 1e-5 over the default orders.
  static double epsilon_for(std::int64_t steps, double q, double sigma) {
    RdpAccountant acc;
    acc.compose_poisson_gaussian(q, sigma, steps);
    return acc.epsilon(1e-5).epsilon;
  }

  void sql(const std::string& statement) {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db, statement.c_str(), nullptr, nullptr, nullptr), SQLITE_OK)
        << sqlite3_errmsg(db);
    sqlite3_close(db);
  }

  fs::path dir_, path_;
};

constexpr double kQ = 0.01, kSigma = 1.0;
constexpr std::int64_t kSteps = 100;

TEST_F(LedgerTest, DeviceAtBudgetRefusesNextRoundAlsoAfterRestart) {
  // Budget = ε of exactly three rounds (1e-9 relative slack for summation order).
  const PrivacyBudget budget{epsilon_for(3 * kSteps, kQ, kSigma) * (1 + 1e-9), 1e-5};
  {
    PrivacyLedger ledger = PrivacyLedger::open(path_);
    ledger.ensure_device("alice", budget);
    for (int round = 1; round <= 3; ++round) {
      const SpendDecision d = ledger.spend("alice", kSteps, kQ, kSigma);
      ASSERT_TRUE(d.accepted()) << round;
      EXPECT_NEAR(d.epsilon_after.epsilon, epsilon_for(round * kSteps, kQ, kSigma), 1e-9);
    }
    const SpendDecision refused = ledger.spend("alice", kSteps, kQ, kSigma);
    EXPECT_EQ(refused.status, SpendStatus::kRefusedOverBudget);
    EXPECT_GT(refused.epsilon_after.epsilon, budget.epsilon);
    EXPECT_NEAR(refused.epsilon_before.epsilon, epsilon_for(3 * kSteps, kQ, kSigma), 1e-9);
  }
  // Restart: a fresh process state reads the same refusal from disk.
  PrivacyLedger reopened = PrivacyLedger::open(path_);
  const auto rec = reopened.find("alice");
  ASSERT_TRUE(rec.has_value());
  EXPECT_EQ(rec->steps, 3 * kSteps);
  EXPECT_EQ(rec->spends, 3);
  EXPECT_NEAR(rec->spent().epsilon, epsilon_for(3 * kSteps, kQ, kSigma), 1e-9);
  EXPECT_FALSE(reopened.can_spend("alice", kSteps, kQ, kSigma).accepted());
  EXPECT_FALSE(reopened.spend("alice", 1, kQ, kSigma).accepted());  // not even one step
  EXPECT_EQ(reopened.find("alice")->spends, 3);                      // refusals store nothing
  // Another device in the same file is independent.
  reopened.ensure_device("bob", budget);
  EXPECT_TRUE(reopened.spend("bob", kSteps, kQ, kSigma).accepted());
}

TEST_F(LedgerTest, CanSpendIsReadOnly) {
  PrivacyLedger ledger = PrivacyLedger::open(path_);
  ledger.ensure_device("carol", {10.0, 1e-5});
  EXPECT_TRUE(ledger.can_spend("carol", kSteps, kQ, kSigma).accepted());
  EXPECT_EQ(ledger.find("carol")->steps, 0);
  EXPECT_EQ(ledger.find("carol")->spent().epsilon, 0.0);
}

TEST_F(LedgerTest, SpendingSurvivesAProcessKilledRightAfterSpendReturns) {
  { PrivacyLedger::open(path_).ensure_device("dave", {50.0, 1e-5}); }
  int pipe_fd[2];
  ASSERT_EQ(::pipe(pipe_fd), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::close(pipe_fd[0]);
    try {
      PrivacyLedger ledger = PrivacyLedger::open(path_);
      const bool ok = ledger.spend("dave", kSteps, kQ, kSigma).accepted();
      const char c = ok ? 'y' : 'n';
      if (::write(pipe_fd[1], &c, 1) != 1) ::_exit(3);
    } catch (...) {
      ::_exit(2);
    }
    ::pause();  // killed here, ledger still open, no destructors run
    ::_exit(0);
  }
  ::close(pipe_fd[1]);
  char c = 0;
  ASSERT_EQ(::read(pipe_fd[0], &c, 1), 1);
  ::close(pipe_fd[0]);
  ::kill(child, SIGKILL);
  int status = 0;
  ::waitpid(child, &status, 0);
  ASSERT_EQ(c, 'y');
  const auto rec = PrivacyLedger::open(path_).find("dave");
  EXPECT_EQ(rec->spends, 1);
  EXPECT_EQ(rec->steps, kSteps);
}

TEST_F(LedgerTest, ConcurrentProcessesLoseNoSpending) {
  { PrivacyLedger::open(path_).ensure_device("erin", {1000.0, 1e-5}); }
  constexpr int kProcs = 3, kEach = 4;
  pid_t kids[kProcs];
  for (int p = 0; p < kProcs; ++p) {
    kids[p] = ::fork();
    ASSERT_GE(kids[p], 0);
    if (kids[p] == 0) {
      try {
        PrivacyLedger ledger = PrivacyLedger::open(path_);
        for (int i = 0; i < kEach; ++i) {
          if (!ledger.spend("erin", 10, kQ, kSigma).accepted()) ::_exit(1);
        }
      } catch (...) {
        ::_exit(2);
      }
      ::_exit(0);
    }
  }
  for (pid_t k : kids) {
    int status = 0;
    ::waitpid(k, &status, 0);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }
  const auto rec = PrivacyLedger::open(path_).find("erin");
  EXPECT_EQ(rec->spends, kProcs * kEach);
  EXPECT_EQ(rec->steps, 10 * kProcs * kEach);
  EXPECT_NEAR(rec->spent().epsilon, epsilon_for(10 * kProcs * kEach, kQ, kSigma), 1e-9);
}

TEST_F(LedgerTest, BudgetIsNeverChangedSilently) {
  PrivacyLedger ledger = PrivacyLedger::open(path_);
  ledger.ensure_device("frank", {2.0, 1e-5});
  EXPECT_NO_THROW(ledger.ensure_device("frank", {2.0, 1e-5}));
  EXPECT_THROW(ledger.ensure_device("frank", {3.0, 1e-5}), LedgerConfigMismatch);
  EXPECT_THROW(ledger.ensure_device("frank", {2.0, 1e-6}), LedgerConfigMismatch);
  EXPECT_THROW(ledger.ensure_device("frank", {2.0, 1e-5}, {2.0, 4.0}), LedgerConfigMismatch);
}

TEST_F(LedgerTest, RejectsUnknownDevicesAndBadArguments) {
  PrivacyLedger ledger = PrivacyLedger::open(path_);
  EXPECT_THROW((void)ledger.spend("nobody", 1, kQ, kSigma), LedgerError);
  EXPECT_FALSE(ledger.find("nobody").has_value());
  EXPECT_THROW(ledger.ensure_device("", {1.0, 1e-5}), InvalidPrivacyParameter);
  EXPECT_THROW(ledger.ensure_device("g", {0.0, 1e-5}), InvalidPrivacyParameter);
  EXPECT_THROW(ledger.ensure_device("g", {1.0, 1.0}), InvalidPrivacyParameter);
  ledger.ensure_device("g", {1.0, 1e-5});
  EXPECT_THROW((void)ledger.spend("g", 0, kQ, kSigma), InvalidPrivacyParameter);
  EXPECT_THROW((void)ledger.spend("g", 1, 1.5, kSigma), InvalidPrivacyParameter);
}

TEST_F(LedgerTest, GarbageEmptyOrForeignFilesAreCorruptNotFresh) {
  {
    std::ofstream f(path_, std::ios::binary);
    for (int i = 0; i < 4096; ++i) f.put(static_cast<char>((i * 131) ^ 0x5a));
  }
  EXPECT_THROW(PrivacyLedger::open(path_), LedgerCorruptError);
  fs::remove(path_);
  { std::ofstream f(path_); }  // 0 bytes
  EXPECT_THROW(PrivacyLedger::open(path_), LedgerCorruptError);
  fs::remove(path_);
  sql("CREATE TABLE something_else(x INTEGER)");
  EXPECT_THROW(PrivacyLedger::open(path_), LedgerCorruptError);
}

TEST_F(LedgerTest, DamagedRecordIsDetected) {
  {
    PrivacyLedger ledger = PrivacyLedger::open(path_);
    ledger.ensure_device("henry", {5.0, 1e-5});
    ASSERT_TRUE(ledger.spend("henry", kSteps, kQ, kSigma).accepted());
  }
  // Zero the spent RDP behind the ledger's back (what a silent reset would look like).
  sql("UPDATE device_ledger SET rdp = zeroblob(length(rdp)) WHERE device_id = 'henry'");
  {
    PrivacyLedger ledger = PrivacyLedger::open(path_);
    EXPECT_THROW((void)ledger.find("henry"), LedgerCorruptError);
    EXPECT_THROW((void)ledger.can_spend("henry", 1, kQ, kSigma), LedgerCorruptError);
    EXPECT_THROW((void)ledger.spend("henry", 1, kQ, kSigma), LedgerCorruptError);
  }
  sql("UPDATE device_ledger SET rdp = x'00010203040506' WHERE device_id = 'henry'");
  EXPECT_THROW((void)PrivacyLedger::open(path_).find("henry"), LedgerCorruptError);
  sql("UPDATE device_ledger SET steps = -1 WHERE device_id = 'henry'");
  EXPECT_THROW((void)PrivacyLedger::open(path_).find("henry"), LedgerCorruptError);
}

TEST_F(LedgerTest, DamagedFileHeaderIsCorrupt) {
  { PrivacyLedger::open(path_).ensure_device("ivy", {5.0, 1e-5}); }
  {
    std::fstream f(path_, std::ios::binary | std::ios::in | std::ios::out);
    f.seekp(0);
    f.write("NOT A DATABASE!!", 16);
  }
  EXPECT_THROW(PrivacyLedger::open(path_), LedgerCorruptError);
}

}  // namespace
}  // namespace fedlora::privacy
