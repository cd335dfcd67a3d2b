#pragma once
// A bounded, thread-safe cache of materialised devices (least recently used evicted first),
// which also counts every device whose windows are alive, cached or held by a caller.
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <unordered_map>

#include "client/train/user_examples.h"

namespace fedlora::sim {

class DeviceCache {
 public:
  /// Keeps up to `capacity` devices (0: none; every get() tokenizes anew).
  explicit DeviceCache(std::size_t capacity);

  /// Device `id` from the cache, or `make()` (called without the lock held, so several
  /// devices materialise in parallel; if two threads race for one id, one result is kept).
  std::shared_ptr<const client::UserExamples> get(std::uint64_t id, const std::function<client::UserExamples()>& make);

  /// `examples` as a pointer counted in live_devices() / live_tokens(), not cached (e.g. the
  /// evaluation users the fleet keeps for the whole run).
  std::shared_ptr<const client::UserExamples> counted(client::UserExamples examples) const;

  std::size_t cached() const;
  /// Devices / tokens whose windows are alive (in the cache or held by callers).
  std::size_t live_devices() const noexcept { return counters_->devices.load(); }
  std::size_t live_tokens() const noexcept { return counters_->tokens.load(); }

 private:
  struct Counters {
    std::atomic<std::size_t> devices{0}, tokens{0};
  };
  using Entry = std::pair<std::uint64_t, std::shared_ptr<const client::UserExamples>>;
  std::size_t capacity_;
  std::shared_ptr<Counters> counters_ = std::make_shared<Counters>();  // outlives the cache's pointers
  mutable std::mutex mu_;
  std::list<Entry> lru_;  // front = most recent
  std::unordered_map<std::uint64_t, std::list<Entry>::iterator> index_;
};

}  // namespace fedlora::sim
