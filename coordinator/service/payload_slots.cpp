#include "coordinator/service/payload_slots.h"

#include <algorithm>

namespace fedlora::coordinator {

PayloadSlots::PayloadSlots(std::size_t slots) : free_(std::max<std::size_t>(slots, 1)), capacity_(free_) {}

std::unique_ptr<PayloadSlots::Ticket> PayloadSlots::acquire(std::function<void()> on_grant) {
  std::unique_ptr<Ticket> t(new Ticket(*this));
  std::lock_guard g(mu_);
  if (free_ > 0) {
    --free_;
    t->granted_ = true;
    on_grant();
  } else {
    t->on_grant_ = std::move(on_grant);
    waiting_.push_back(t.get());
  }
  return t;
}

bool PayloadSlots::Ticket::granted() const {
  std::lock_guard g(pool_->mu_);
  return granted_;
}

PayloadSlots::Ticket::~Ticket() { pool_->release(this); }

void PayloadSlots::release(Ticket* t) {
  std::lock_guard g(mu_);
  if (!t->granted_) {
    waiting_.erase(std::remove(waiting_.begin(), waiting_.end(), t), waiting_.end());
    return;
  }
  if (waiting_.empty()) {
    ++free_;
    return;
  }
  Ticket* next = waiting_.front();  // hand the slot over directly
  waiting_.pop_front();
  next->granted_ = true;
  auto grant = std::move(next->on_grant_);
  grant();
}

std::size_t PayloadSlots::in_use() const {
  std::lock_guard g(mu_);
  return capacity_ - free_;
}

std::size_t PayloadSlots::waiting() const {
  std::lock_guard g(mu_);
  return waiting_.size();
}

}  // namespace fedlora::coordinator
