#pragma once
// Turning token streams into language-model examples and padded batches.
#include <ATen/ATen.h>

#include <cstdint>
#include <span>
#include <vector>

namespace fedlora::lora {

using TokenSeq = std::vector<int32_t>;

/// Cuts `stream` into consecutive windows of at most `window` tokens (window = context + 1:
/// inputs plus the shifted targets). Window i starts at i·(window − 1), so consecutive windows
/// share one token and every token after the first is a prediction target exactly once.
/// A final window shorter than 2 tokens is dropped. Throws std::invalid_argument if window < 2.
std::vector<TokenSeq> make_windows(std::span<const int32_t> stream, int64_t window);

/// A padded batch: tokens int64 [B, T] (padding = 0) and mask float32 [B, T] (1 for real tokens).
struct LmBatch {
  at::Tensor tokens;
  at::Tensor mask;
  int64_t n_targets = 0;  ///< Σ over rows of (length − 1)
};

/// Packs examples[idx[0]], examples[idx[1]], ... into one batch, T = longest selected example.
/// Throws std::invalid_argument on an empty selection, an index out of range, or an example
/// shorter than 2 tokens.
LmBatch pack_batch(const std::vector<TokenSeq>& examples, std::span<const size_t> idx);

}  // namespace fedlora::lora
