#pragma once
// Held-out evaluation of a global adapter on the fleet's evaluation users (LEAF / McMahan
// et al. 2017 §3: each user's last 20% of texts), spread over the worker pool.
#include <Eigen/Core>

#include <cstdint>
#include <memory>

#include "lora/adapter/adapter_layout.h"
#include "lora/model/base_model.h"
#include "simulator/fleet/fleet.h"
#include "simulator/fleet/worker_pool.h"

namespace fedlora::sim {

/// Evaluation of one adapter on the held-out data of the fixed evaluation users.
struct EvalPoint {
  int64_t round = 0;       ///< 0 = the base model (fresh adapter, B = 0)
  double accuracy = 0.0;   ///< next-token accuracy
  double loss = 0.0;       ///< nats/token
  double perplexity = 0.0;
  int64_t tokens = 0;      ///< predicted tokens evaluated
};

/// Next-token accuracy / loss of base + θ (float32 [layout.size()]) summed over the
/// evaluation users' test windows; per-user sums are added in a fixed order, so the result
/// does not depend on thread scheduling.
EvalPoint evaluate_global(WorkerPool& pool, const std::shared_ptr<const lora::BaseModel>& base,
                          const lora::AdapterLayout& layout, const Eigen::VectorXf& theta, const Fleet& fleet,
                          int64_t round);

}  // namespace fedlora::sim
