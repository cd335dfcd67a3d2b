#pragma once
// The coordinator's durable state, in SQLite (WAL) under the state directory: the device
// registry, every finished round with its metrics, and the privacy accounting after each
// round. A round is committed by ONE transaction; its checkpoint files are written (and
// fsync'ed) before it, so after a crash the store names a round whose files are complete
// (checkpoint_store.h). Thread-safe (SQLite serialized mode).
#include <array>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "privacy/ledger/sqlite_db.h"

namespace fedlora::coordinator {

/// The store cannot be opened, read or written, or holds another job. Names the file.
struct StoreError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// One finished round as stored.
struct StoredRound {
  std::uint64_t round = 0;
  bool aborted = false;
  std::string abort_reason;
  int cohort = 0;
  int contributors = 0;
  std::array<std::uint8_t, 32> adapter_sha256{};  ///< θ after the round (= before, if aborted)
  std::string metrics_json;                       ///< the round's metrics.jsonl line
  std::string privacy_state_json;                 ///< accountant state after the round ("" without DP)
};

struct StoredDevice {
  std::int64_t id = 0;   ///< enrolment order, from 0: the id cohorts are drawn over
  std::string name;      ///< certificate CN or token-file id
  std::string identity_key;  ///< its Ed25519 identity key (32 bytes) once registered, else ""
};

class StateStore {
 public:
  /// Opens or creates <state_dir>/coordinator.sqlite (WAL, synchronous=FULL). `job_fingerprint`
  /// describes the job (its configuration); reopening a store of another job throws
  /// StoreError, so a restart never continues someone else's run.
  static StateStore open(const std::filesystem::path& state_dir, const std::string& job_fingerprint);
  /// Opens an existing store read-only-in-spirit for `fedlora-coordinator status`.
  static StateStore open_existing(const std::filesystem::path& state_dir);

  /// The device's id, enrolling it (next id) if new. `token_sha256` empty for mTLS devices.
  StoredDevice enrol(const std::string& name, const std::string& token_sha256 = "");
  std::optional<StoredDevice> find_device(const std::string& name) const;
  /// Registers the device's Ed25519 identity key (first use). Throws StoreError if it already
  /// has a different one: an identity never changes silently.
  void register_identity(std::int64_t id, const std::string& key);
  std::vector<StoredDevice> devices() const;
  /// Last check-in facts of devices, in one transaction.
  struct Seen {
    std::int64_t id;
    std::int64_t unix_ms;
    std::int64_t num_examples;
    std::string runtime_version;
  };
  void record_seen(const std::vector<Seen>& seen);

  /// Highest committed round (0: none).
  std::uint64_t committed_round() const;
  /// Commits a finished round: its row and committed_round = round, atomically. Throws
  /// StoreError if `round` is not committed_round() + 1.
  void commit_round(const StoredRound& round);
  std::optional<StoredRound> round(std::uint64_t round) const;
  std::vector<StoredRound> rounds() const;

  /// Live progress of the open round for `fedlora-coordinator status` (a JSON object).
  void set_progress(const std::string& json);
  std::string progress() const;

  const std::filesystem::path& path() const { return path_; }

 private:
  StateStore(std::filesystem::path path, bool create);
  std::filesystem::path path_;
  mutable privacy::sqlite::Database db_;
};

}  // namespace fedlora::coordinator
