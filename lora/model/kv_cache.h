#pragma once
// Incremental inference for the Llama decoder: keys and values of every past position are
// kept (rotated) per layer, so each new token costs one position's forward work instead of
// re-running the prefix. Same function as decoder_forward (decoder.h); inference only, no
// gradients. Rows of a batch are independent sequences of equal length (beams).
#include <ATen/ATen.h>

#include <cstdint>
#include <vector>

#include "lora/model/decoder.h"

namespace fedlora::lora {

/// Keys/values for `batch` sequences of up to config.context_length positions:
/// per layer k, v float32 [batch, n_kv_heads, context_length, head_dim], k rotated (RoPE).
class KvCache {
 public:
  KvCache(const LlamaConfig& cfg, int64_t batch);
  int64_t batch() const { return batch_; }
  int64_t length() const { return length_; }      ///< positions filled, same for every row
  int64_t capacity() const { return capacity_; }  ///< context_length
  /// Keeps rows `rows` (int64 [B'], values in [0, batch)) in that order, e.g. the parents of
  /// the surviving beams; batch becomes B'. Throws std::invalid_argument on a bad index tensor.
  void select_rows(const at::Tensor& rows);
  /// Forgets every position (length 0), keeping the memory.
  void clear() { length_ = 0; }

 private:
  friend at::Tensor decode_append(DecoderWeights& w, KvCache& cache, const at::Tensor& tokens);
  int64_t batch_, capacity_, length_ = 0;
  std::vector<at::Tensor> k_, v_;
  RopeTables rope_;
};

/// Appends tokens int64 [batch, T] at positions [length, length + T) and returns the logits of
/// the last new position, float32 [batch, vocab]. Throws std::invalid_argument if the batch
/// differs from the cache's, T < 1, ids are out of range, or length + T > context_length.
at::Tensor decode_append(DecoderWeights& w, KvCache& cache, const at::Tensor& tokens);

}  // namespace fedlora::lora
