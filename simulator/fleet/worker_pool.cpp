#include "simulator/fleet/worker_pool.h"

#include <stdexcept>

#include "lora/model/runtime.h"

namespace fedlora::sim {

WorkerPool::WorkerPool(int threads) {
  if (threads < 1) throw std::invalid_argument("WorkerPool: need at least one thread");
  // OpenBLAS's thread count is process-wide: one thread per caller.
  lora::set_compute_threads(1);
  for (int i = 0; i < threads; ++i) workers_.emplace_back([this, i] { worker_main(i); });
}

WorkerPool::~WorkerPool() {
  {
    std::lock_guard<std::mutex> lk(mu_);
    stop_ = true;
  }
  cv_work_.notify_all();
  for (auto& t : workers_) t.join();
}

void WorkerPool::run(const std::vector<size_t>& order, const std::function<void(size_t, int)>& fn) {
  if (order.empty()) return;
  std::unique_lock<std::mutex> lk(mu_);
  order_ = &order;
  fn_ = &fn;
  next_ = 0;
  done_ = 0;
  errors_.assign(order.size(), nullptr);
  ++generation_;
  cv_work_.notify_all();
  cv_done_.wait(lk, [&] { return done_ == order.size(); });
  order_ = nullptr;
  fn_ = nullptr;
  for (auto& e : errors_)
    if (e) std::rethrow_exception(e);
}

void WorkerPool::worker_main(int id) {
  lora::set_compute_threads(1);  // this thread's ATen/OpenMP setting
  unsigned seen = 0;
  std::unique_lock<std::mutex> lk(mu_);
  for (;;) {
    cv_work_.wait(lk, [&] { return stop_ || (generation_ != seen && order_ && next_ < order_->size()); });
    if (stop_) return;
    while (order_ && next_ < order_->size()) {
      const size_t pos = next_++;
      const size_t task = (*order_)[pos];
      const auto* fn = fn_;
      lk.unlock();
      std::exception_ptr err;
      try {
        (*fn)(task, id);
      } catch (...) {
        err = std::current_exception();
      }
      lk.lock();
      errors_[pos] = err;
      if (++done_ == order_->size()) {
        seen = generation_;
        cv_done_.notify_all();
      }
    }
    seen = generation_;
  }
}

}  // namespace fedlora::sim
