#pragma once
// A fixed set of worker threads that run one virtual device (or one evaluation shard) at a
// time each. Every worker computes with one BLAS/ATen thread, so N workers use N cores
// without oversubscription (docs/build.md: two 1-thread callers ≈ 292 GFLOP/s vs 175 for
// one 2-thread caller).
#include <condition_variable>
#include <cstddef>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace fedlora::sim {

class WorkerPool {
 public:
  /// Starts `threads` workers (>= 1). Throws std::invalid_argument otherwise.
  explicit WorkerPool(int threads);
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  int size() const noexcept { return static_cast<int>(workers_.size()); }

  /// Runs fn(task, worker) for task in `order` (a permutation or subset of task indices; the
  /// pool takes them in that order, e.g. longest first), and waits for all of them. If tasks
  /// throw, the first exception (by task order position) is rethrown after all have finished.
  void run(const std::vector<size_t>& order, const std::function<void(size_t task, int worker)>& fn);

 private:
  void worker_main(int id);

  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable cv_work_, cv_done_;
  const std::vector<size_t>* order_ = nullptr;
  const std::function<void(size_t, int)>* fn_ = nullptr;
  size_t next_ = 0, done_ = 0;
  unsigned generation_ = 0;
  bool stop_ = false;
  std::vector<std::exception_ptr> errors_;
};

}  // namespace fedlora::sim
