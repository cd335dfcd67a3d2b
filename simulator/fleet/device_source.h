#pragma once
// What the fleet keeps of an idle device, and where a device's windows come from when it is
// needed: the source re-derives them from metadata (texts or chunk ranges) on demand.
#include <cstddef>
#include <cstdint>
#include <string>

#include "client/train/user_examples.h"

namespace fedlora::sim {

/// Counts of one device, known without its tokens (16 bytes).
struct DeviceMeta {
  std::uint32_t train_examples = 0;  ///< training windows (DeviceFacts.examples, FedAvg weight)
  std::uint32_t test_examples = 0;   ///< held-out windows
  std::uint32_t train_targets = 0;   ///< tokens predicted in training (scheduling: longest first)
  std::uint32_t test_targets = 0;
};

/// Rebuilds devices' token windows. Implementations are immutable after construction, so
/// materialize() may run on several threads at once.
class DeviceSource {
 public:
  virtual ~DeviceSource() = default;
  virtual std::size_t size() const = 0;
  virtual std::string user_id(std::size_t device) const = 0;
  /// Device `device`'s windows, tokenized now (client::tokenize_user's rules).
  virtual client::UserExamples materialize(std::size_t device) const = 0;
  /// Bytes held per device (all devices together), e.g. texts or chunk lists.
  virtual std::size_t device_bytes() const = 0;
  /// Bytes shared by all devices, e.g. a partition's source documents.
  virtual std::size_t shared_bytes() const = 0;
};

}  // namespace fedlora::sim
