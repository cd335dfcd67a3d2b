#pragma once
// Held-out evaluation of a global adapter on the fleet's evaluation users (LEAF / McMahan
// et al. 2017 §3: each user's last 20% of texts), spread over the worker pool.
#include <Eigen/Core>

#include <cstdint>
#include <memory>

#include "lora/adapter/adapter_layout.h"
#include "lora/model/base_model.h"
#include "lora/tokenizer/word_vocab.h"
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
  // Next-word recall (Hard et al. 2018) at word starts of the same held-out windows.
  int64_t next_word_positions = 0;  ///< 0: not evaluated
  double next_word_top1 = 0.0;
  double next_word_top3 = 0.0;
};

/// Next-word evaluation settings: `words` of the base's tokenizer, and how many word starts
/// (evenly spread over all the evaluation users' windows) to score; none when 0 or null.
struct EvalOptions {
  const lora::WordVocab* words = nullptr;
  int64_t next_word_positions = 0;
};

/// Next-token accuracy / loss (and next-word recall, per `options`) of base + θ (float32 [layout.size()]) summed over the
/// evaluation users' test windows; per-user sums are added in a fixed order, so the result
/// does not depend on thread scheduling.
EvalPoint evaluate_global(WorkerPool& pool, const std::shared_ptr<const lora::BaseModel>& base,
                          const lora::AdapterLayout& layout, const Eigen::VectorXf& theta, const Fleet& fleet,
                          int64_t round, const EvalOptions& options = {});

}  // namespace fedlora::sim
