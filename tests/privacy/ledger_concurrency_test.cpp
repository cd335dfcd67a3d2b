// The ledger's check-and-record is one exclusive transaction: devices' threads (one shared
// ledger object) and processes' handles (one object each on the same file) racing to spend
// accept exactly as many rounds as a serial run does, never one more. Also run under TSan
// (scripts/test.sh --tsan).
#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "privacy/ledger/privacy_ledger.h"
#include "tests/support/temp_dir.h"

using namespace fedlora::privacy;

namespace {

constexpr PrivacyBudget kBudget{3.0, 1e-5};
constexpr double kQ = 0.1, kSigma = 1.2;

// How many single-step spends fit the budget, by spending one after the other.
int serial_capacity(const std::filesystem::path& path) {
  auto l = PrivacyLedger::open(path);
  l.ensure_device("d", kBudget);
  int n = 0;
  while (l.spend("d", 2, kQ, kSigma).accepted()) ++n;
  return n;
}

TEST(LedgerConcurrency, ThreadsSharingOneLedgerNeverOverspend) {
  fedlora::test::TempDir dir;
  const int capacity = serial_capacity(dir / "serial.db");
  ASSERT_GT(capacity, 3);
  auto ledger = PrivacyLedger::open(dir / "shared.db");
  ledger.ensure_device("d", kBudget);
  std::atomic<int> accepted{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < capacity; ++i)
        if (ledger.spend("d", 2, kQ, kSigma).accepted()) ++accepted;
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(accepted.load(), capacity);
  EXPECT_EQ(ledger.find("d")->spends, capacity);
}

TEST(LedgerConcurrency, SeparateHandlesOnOneFileNeverOverspend) {
  fedlora::test::TempDir dir;
  const int capacity = serial_capacity(dir / "serial.db");
  PrivacyLedger::open(dir / "file.db").ensure_device("d", kBudget);
  std::atomic<int> accepted{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 3; ++t)
    threads.emplace_back([&] {
      auto own = PrivacyLedger::open(dir / "file.db");  // its own SQLite connection
      for (int i = 0; i < capacity; ++i)
        if (own.spend("d", 2, kQ, kSigma).accepted()) ++accepted;
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(accepted.load(), capacity);
  EXPECT_EQ(PrivacyLedger::open(dir / "file.db").find("d")->spends, capacity);
}

}  // namespace
