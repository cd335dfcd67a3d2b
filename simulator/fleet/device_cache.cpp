#include "simulator/fleet/device_cache.h"

namespace fedlora::sim {

DeviceCache::DeviceCache(std::size_t capacity) : capacity_(capacity) {}

std::size_t DeviceCache::cached() const {
  std::lock_guard lock(mu_);
  return lru_.size();
}

std::shared_ptr<const client::UserExamples> DeviceCache::counted(client::UserExamples examples) const {
  std::size_t tokens = 0;
  for (const auto* split : {&examples.train, &examples.test})
    for (const auto& w : *split) tokens += w.size();
  counters_->devices += 1;
  counters_->tokens += tokens;
  return std::shared_ptr<const client::UserExamples>(new client::UserExamples(std::move(examples)),
                                                     [c = counters_, tokens](const client::UserExamples* p) {
                                                       c->devices -= 1;
                                                       c->tokens -= tokens;
                                                       delete p;
                                                     });
}

std::shared_ptr<const client::UserExamples> DeviceCache::get(std::uint64_t id,
                                                              const std::function<client::UserExamples()>& make) {
  {
    std::lock_guard lock(mu_);
    if (auto it = index_.find(id); it != index_.end()) {
      lru_.splice(lru_.begin(), lru_, it->second);
      return it->second->second;
    }
  }
  auto made = counted(make());
  if (capacity_ == 0) return made;
  std::lock_guard lock(mu_);
  if (auto it = index_.find(id); it != index_.end()) return it->second->second;  // another thread won
  lru_.emplace_front(id, made);
  index_[id] = lru_.begin();
  if (lru_.size() > capacity_) {
    index_.erase(lru_.back().first);
    lru_.pop_back();  // freed now unless a caller still holds it
  }
  return made;
}

}  // namespace fedlora::sim
