#pragma once
// Back-pressure for large payloads: at most `slots` uploads (or large SecAgg messages) are
// assembled in memory at once. A stream that cannot get a slot is not read further (gRPC
// flow control then holds its sender) until a slot frees, so the coordinator's memory does
// not grow with the number of devices reporting at the same moment.
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>

namespace fedlora::coordinator {

class PayloadSlots {
 public:
  /// A claim on a slot. Destroying it frees the slot (if granted) or withdraws the request.
  class Ticket {
   public:
    ~Ticket();
    bool granted() const;

   private:
    friend class PayloadSlots;
    explicit Ticket(PayloadSlots& pool) : pool_(&pool) {}
    PayloadSlots* pool_;
    bool granted_ = false;
    std::function<void()> on_grant_;
  };

  explicit PayloadSlots(std::size_t slots);
  /// Requests a slot. `on_grant` runs now if one is free, else later on the thread that frees
  /// one, under the pool's lock (it must only start I/O, e.g. StartRead, and never block).
  std::unique_ptr<Ticket> acquire(std::function<void()> on_grant);
  std::size_t in_use() const;
  std::size_t waiting() const;

 private:
  void release(Ticket* t);
  mutable std::mutex mu_;
  std::size_t free_;
  std::size_t capacity_;
  std::deque<Ticket*> waiting_;
};

}  // namespace fedlora::coordinator
