#pragma once
// Round checkpoints of a simulated run, for `fedlora-sim run --resume`.
//
// Layout: <run_dir>/checkpoints/round-NNNNNNNN/ holds the global adapter (PEFT safetensors +
// adapter_config.json), server_state.safetensors (server optimizer; Coordinator::
// write_checkpoint), ledger.sqlite (a snapshot of the run's DP-SGD ledger, if it has one)
// and run_state.json (RunState, the config fingerprint, and the SHA-256 of every other
// file). <run_dir>/checkpoint is a symlink to the newest one.
//
// Crash safety: a checkpoint is written to round-N.tmp/, every file fsync'ed, the directory
// fsync'ed, then renamed to round-N and the parent fsync'ed, so round-N exists only when
// complete. A failed write (disk full, read-only) removes the temporary and leaves the
// previous checkpoint intact. The two newest checkpoints are kept.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "coordinator/protocol/round_instructions.h"
#include "coordinator/round/coordinator.h"
#include "simulator/config/sim_config.h"
#include "simulator/fleet/fleet.h"
#include "simulator/run/run_state.h"

namespace fedlora::sim {

/// --resume cannot continue: the config or inputs changed, the checkpoint is corrupt, or the
/// mechanism cannot be resumed. The message says what differs and what to do.
struct ResumeError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// What must not change between a checkpoint and its resumption.
struct RunFingerprint {
  std::vector<std::pair<std::string, std::string>> config;  ///< describe(config) without run.threads
  std::string base_sha256;   ///< hex SHA-256 of the base GGUF
  std::string data_sha256;   ///< hex SHA-256 over every user's id and token windows
  std::int64_t adapter_parameters = 0;
};
RunFingerprint run_fingerprint(const SimConfig& config, const protocol::Sha256Digest& base_sha256, const Fleet& fleet,
                               std::int64_t adapter_parameters);

/// Writes round `state.round`'s checkpoint (see above); `ledger` is the run's DP-SGD ledger
/// file to snapshot, empty if none. Throws std::runtime_error naming the directory and the
/// OS error; the previous checkpoint is then untouched.
void write_run_checkpoint(const std::filesystem::path& run_dir, const coordinator::Coordinator& coordinator,
                          const RunState& state, const RunFingerprint& fingerprint,
                          const std::filesystem::path& ledger);

struct FoundCheckpoint {
  std::filesystem::path dir;
  RunState state;
  bool has_ledger = false;
};
/// The newest checkpoint under `run_dir`, checked against `fingerprint`; nullopt if there is
/// none. Throws ResumeError if it is corrupt or truncated (naming the file) or if the
/// config, base or data differ (naming every key that differs, with both values).
std::optional<FoundCheckpoint> load_run_checkpoint(const std::filesystem::path& run_dir, const RunFingerprint& fingerprint);

/// Replaces the ledger at `ledger_path` (and its -wal/-shm) by the checkpoint's snapshot.
void restore_ledger_snapshot(const std::filesystem::path& checkpoint_dir, const std::filesystem::path& ledger_path);

/// Deletes every checkpoint of `run_dir` (a fresh run).
void clear_run_checkpoints(const std::filesystem::path& run_dir);

}  // namespace fedlora::sim
