#include "client/train/step_memory.h"

#include <algorithm>
#include <cstdio>

namespace fedlora::client {
namespace {

constexpr double kFloat = 4.0;
constexpr double kBackwardSlack = 1.25;
constexpr double kLossChunkRows = 512;  // lm_loss runs the head on chunks of this many rows

}  // namespace

double estimate_step_bytes(const StepShape& s, const StepMemorySettings& st) {
  const auto& c = s.model;
  const double d = static_cast<double>(c.dim), f = static_cast<double>(c.ffn_dim);
  const double kv = static_cast<double>(c.n_kv_heads) * static_cast<double>(c.head_dim());
  const double h = static_cast<double>(c.n_heads), t = static_cast<double>(s.seq_len);
  const double layers = static_cast<double>(c.n_layers), vocab = static_cast<double>(c.vocab_size);
  const double b = static_cast<double>(std::min(st.micro_batch, s.batch));
  const double m = b * t;
  const double per_token_block = 7 * d + 2 * kv + 3 * f + h * t;
  const double one_block = m * per_token_block * kFloat * kBackwardSlack;
  const double activations = st.activation_checkpointing ? layers * m * d * kFloat + 2 * one_block : layers * one_block;
  const double head = std::min(m, kLossChunkRows) * vocab * kFloat * 3 + m * d * kFloat * 2;
  const double scratch = 2 * static_cast<double>(s.largest_projection) * kFloat + vocab * d * kFloat;
  const double adapter = static_cast<double>(s.adapter_size) * kFloat * (s.fedprox ? 5 : 4);
  const double dp = s.dp_sgd ? b * static_cast<double>(s.adapter_size) * kFloat * 2 : 0.0;
  const double int8_base = st.activation_checkpointing ? 0.0 : static_cast<double>(s.int8_base_bytes);
  return activations + head + scratch + adapter + dp + int8_base;
}

StepMemorySettings plan_step_memory(const StepShape& shape, double budget_mb) {
  if (!(budget_mb > 0)) throw std::invalid_argument("memory budget must be > 0 MB");
  if (shape.batch < 1 || shape.seq_len < 1 || shape.model.n_layers < 1)
    throw std::invalid_argument("plan_step_memory: empty step shape");
  const double budget = budget_mb * 1e6;
  for (bool ckpt : {false, true})
    for (int b = shape.batch; b >= 1; --b) {
      const StepMemorySettings s{b, ckpt};
      if (estimate_step_bytes(shape, s) <= budget) return s;
    }
  const double least = estimate_step_bytes(shape, {1, true});
  char msg[256];
  std::snprintf(msg, sizeof msg,
                "memory budget of %.0f MB is too small for this task: one example of %lld tokens with "
                "activation checkpointing needs about %.0f MB on top of the runtime and base weights",
                budget_mb, static_cast<long long>(shape.seq_len), least / 1e6);
  throw MemoryBudgetExceeded(msg);
}

}  // namespace fedlora::client
