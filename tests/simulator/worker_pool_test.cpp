// The simulator's worker pool: every task runs exactly once, on some worker, in the given
// order of start; the first exception by order position is rethrown after all tasks finished.
// Also run under TSan (scripts/test.sh --tsan).
#include <gtest/gtest.h>

#include <atomic>
#include <stdexcept>
#include <vector>

#include "simulator/fleet/worker_pool.h"

using fedlora::sim::WorkerPool;

namespace {

TEST(WorkerPool, RunsEveryTaskOnceAcrossWorkersAndRounds) {
  WorkerPool pool(4);
  std::vector<size_t> order(1000);
  for (size_t i = 0; i < order.size(); ++i) order[i] = order.size() - 1 - i;
  for (int round = 0; round < 5; ++round) {
    std::vector<int> runs(order.size(), 0);
    std::vector<std::atomic<int>> per_worker(4);
    pool.run(order, [&](size_t task, int worker) {
      runs[task] += 1;  // each task index is owned by one call: no race if the pool is right
      per_worker[static_cast<size_t>(worker)]++;
    });
    for (size_t i = 0; i < runs.size(); ++i) ASSERT_EQ(runs[i], 1) << "task " << i << " round " << round;
    int total = 0;
    for (auto& w : per_worker) total += w.load();
    EXPECT_EQ(total, 1000);
  }
}

TEST(WorkerPool, RethrowsTheFirstFailureByOrderAfterAllTasksFinished) {
  WorkerPool pool(3);
  const std::vector<size_t> order{4, 3, 2, 1, 0, 5, 6, 7};
  std::atomic<int> finished{0};
  try {
    pool.run(order, [&](size_t task, int) {
      finished++;
      if (task == 1 || task == 6) throw std::runtime_error("task " + std::to_string(task));
    });
    FAIL() << "no exception";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "task 1");  // position 3 in `order`, before task 6 at position 6
  }
  EXPECT_EQ(finished.load(), 8);
  EXPECT_THROW(WorkerPool(0), std::invalid_argument);
}

}  // namespace
