#pragma once
// Round checkpoints of the coordinator service: <state_dir>/checkpoints/round-NNNNNNNN/ with
// the global adapter (PEFT safetensors + adapter_config.json) and the server-optimizer state.
// Each is written under a temporary name, every file fsync'ed, then renamed into place and
// the directory fsync'ed, before the state store commits the round. A restart uses the
// directory of the store's committed round and deletes any other (a checkpoint written for a
// round whose commit never happened).
#include <cstdint>
#include <filesystem>

#include "coordinator/round/coordinator.h"

namespace fedlora::coordinator {

class CheckpointStore {
 public:
  explicit CheckpointStore(std::filesystem::path state_dir);

  /// Writes the coordinator's current θ and optimizer state as round `round`'s checkpoint.
  /// Throws std::runtime_error / lora::IoError naming the path (disk full, read-only).
  void write(const Coordinator& coordinator, std::uint64_t round) const;
  /// Restores the coordinator from round `round`'s checkpoint (round 0: nothing to restore).
  /// Throws if that checkpoint is missing or does not fit the coordinator's layout.
  void restore(Coordinator& coordinator, std::uint64_t round) const;
  /// Deletes checkpoints other than the `count` newest up to round `newest`, checkpoints of
  /// later (never committed) rounds, and leftover temporaries.
  void prune(std::uint64_t newest, int count = 2) const;
  std::filesystem::path dir_of(std::uint64_t round) const;

 private:
  std::filesystem::path root_;
};

}  // namespace fedlora::coordinator
