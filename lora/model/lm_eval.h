#pragma once
#include <cstdint>
#include <span>

#include "lora/model/decoder.h"

namespace fedlora::lora {

/// Next-token loss over a token stream, cut into windows of context_length + 1 tokens
/// (make_windows), so every token after the first is predicted once with up to
/// context_length tokens of context.
struct StreamEval {
  double loss_sum = 0.0;  ///< Σ −log p, nats
  int64_t n_targets = 0;
  int64_t correct = 0;
  double loss() const;        ///< nats/token
  double perplexity() const;  ///< exp(loss)
  double accuracy() const;
};

/// Evaluates `w` on `stream` without gradients, `batch` windows at a time.
/// Throws std::invalid_argument if the stream has fewer than 2 tokens or batch < 1.
StreamEval evaluate_stream(DecoderWeights& w, std::span<const int32_t> stream, int64_t batch = 16);

}  // namespace fedlora::lora
