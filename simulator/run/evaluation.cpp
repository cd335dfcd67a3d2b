#include "simulator/run/evaluation.h"

#include <algorithm>

#include "client/train/local_trainer.h"

namespace fedlora::sim {

EvalPoint evaluate_global(WorkerPool& pool, const std::shared_ptr<const lora::BaseModel>& base,
                          const lora::AdapterLayout& layout, const Eigen::VectorXf& theta, const Fleet& fleet,
                          int64_t round) {
  const auto& users = fleet.eval_devices;
  std::vector<client::EvalMetrics> per(users.size());
  std::vector<size_t> order(users.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {  // longest first
    return fleet.devices[users[a]].test_targets() > fleet.devices[users[b]].test_targets();
  });
  const std::span<const float> th(theta.data(), static_cast<size_t>(theta.size()));
  pool.run(order, [&](size_t i, int) {
    per[i] = client::evaluate_adapter(base, layout, th, fleet.devices[users[i]].test, 16);
  });
  client::EvalMetrics m;
  for (const auto& p : per) m += p;
  return EvalPoint{round, m.accuracy(), m.loss(), m.perplexity(), m.n_targets};
}

}  // namespace fedlora::sim
