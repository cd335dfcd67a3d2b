// PrivacyLedger: a device's persistent record of the example-level privacy it has spent.
//
// Each device (keyed by its user/device id) stores the RDP curve it has spent over a fixed
// set of orders, and an (ε, δ) budget. Before touching its data for a round, the trainer
// calls spend(planned steps, q, σ): the ledger adds compute_rdp(q, σ, steps) (rdp.h) to
// the stored curve, converts to ε at the budget's δ (epsilon.h), and either
//  * refuses (SpendStatus::kRefusedOverBudget, nothing stored) if ε would exceed the
//    budget, or
//  * commits the new curve to disk (fsync'd) and only then returns kAccepted.
// Spending is recorded BEFORE training, as a reservation: a crash during or after training
// can lose unused budget but never lose spending. A refusal holds across restarts because
// the curve it is computed from is on disk.
//
// Storage: SQLite (one file, any number of devices), chosen over a JSON file because it
// gives atomic, durable transactions (write-ahead log + synchronous=FULL), cross-process
// locking (BEGIN IMMEDIATE) for the simulator's many threads/processes, and a page-level
// integrity check, without hand-written fsync/rename logic. RDP values are stored as
// little-endian IEEE-754 blobs (exact, and able to hold +∞ at α = ∞), and every row
// carries a SHA-256 of its contents so damaged rows are detected. This checksum is an
// integrity check, not authentication: it does not stop a user who edits the file on
// purpose (a device owner can always delete their own ledger; the guarantee protects
// them, so they have no reason to).
//
// While open, committed spending may live in the "<path>-wal" file until SQLite
// checkpoints it: copy or move a ledger only while no process has it open (or with the
// SQLite backup API), and never delete the -wal file.
//
// Corruption (not a SQLite file, failed quick_check, missing schema, bad checksum,
// malformed blobs) raises LedgerCorruptError and is never treated as "nothing spent".
// An existing but empty (0-byte) file is also corrupt: only a missing file starts a new
// ledger.
//
// Thread-safe (internal mutex); several processes may share one file.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "privacy/accounting/epsilon.h"
#include "privacy/accounting/rdp.h"

namespace fedlora::privacy {

namespace sqlite {
class Database;
}

/// An (ε, δ) privacy budget: 0 < ε < ∞, 0 < δ < 1.
struct PrivacyBudget {
  double epsilon;
  double delta;
};

/// One device's stored state.
struct LedgerRecord {
  std::string device_id;
  PrivacyBudget budget;
  std::vector<double> orders;
  std::vector<double> rdp;  ///< spent RDP per order, same length as orders
  std::int64_t steps = 0;   ///< DP-SGD steps accepted so far
  std::int64_t spends = 0;  ///< accepted spend() calls (rounds)

  /// ε spent so far at budget.delta.
  [[nodiscard]] EpsilonResult spent() const;
};

enum class SpendStatus { kAccepted, kRefusedOverBudget };

/// Outcome of can_spend / spend.
struct SpendDecision {
  SpendStatus status;
  EpsilonResult epsilon_before;  ///< spent before this request
  EpsilonResult epsilon_after;   ///< spent if (can_spend) / once (spend) accepted
  PrivacyBudget budget;

  [[nodiscard]] bool accepted() const { return status == SpendStatus::kAccepted; }
};

class PrivacyLedger {
 public:
  /// Opens the ledger at `path`, creating it (with its schema) only if no file exists.
  /// Throws LedgerCorruptError if an existing file is not a valid ledger, LedgerError on
  /// I/O or locking failures.
  static PrivacyLedger open(const std::filesystem::path& path);

  PrivacyLedger(PrivacyLedger&&) noexcept;
  PrivacyLedger& operator=(PrivacyLedger&&) noexcept;
  ~PrivacyLedger();

  /// Registers `device_id` with a budget and orders, or checks that the stored ones are
  /// identical (throws LedgerConfigMismatch otherwise: a budget is never silently changed).
  /// Returns the current record. Throws InvalidPrivacyParameter on a bad budget/orders or
  /// an empty device id.
  LedgerRecord ensure_device(std::string_view device_id, PrivacyBudget budget,
                             std::vector<double> orders = default_orders());

  /// The stored record, or nullopt if the device was never registered.
  [[nodiscard]] std::optional<LedgerRecord> find(std::string_view device_id) const;

  /// Would `steps` DP-SGD steps with sampling rate q and noise multiplier σ fit the budget?
  /// Read-only. Throws LedgerError if the device is not registered.
  [[nodiscard]] SpendDecision can_spend(std::string_view device_id, std::int64_t steps,
                                        double q, double noise_multiplier) const;

  /// As can_spend, and if accepted records the spending durably before returning.
  /// The check and the write happen in one exclusive transaction.
  [[nodiscard]] SpendDecision spend(std::string_view device_id, std::int64_t steps, double q,
                                    double noise_multiplier);

  [[nodiscard]] const std::filesystem::path& path() const { return path_; }

 private:
  PrivacyLedger(std::unique_ptr<sqlite::Database> db, std::filesystem::path path);

  std::unique_ptr<sqlite::Database> db_;
  std::filesystem::path path_;
  std::unique_ptr<std::mutex> mutex_;
};

}  // namespace fedlora::privacy
