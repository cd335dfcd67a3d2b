#include "lora/model/lm_batch.h"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace fedlora::lora {

std::vector<TokenSeq> make_windows(std::span<const int32_t> stream, int64_t window) {
  if (window < 2) throw std::invalid_argument("make_windows: window must be >= 2 tokens");
  std::vector<TokenSeq> out;
  const auto n = static_cast<int64_t>(stream.size());
  for (int64_t start = 0; start + 1 < n; start += window - 1) {
    const int64_t end = std::min(n, start + window);
    out.emplace_back(stream.begin() + start, stream.begin() + end);
  }
  return out;
}

LmBatch pack_batch(const std::vector<TokenSeq>& examples, std::span<const size_t> idx) {
  if (idx.empty()) throw std::invalid_argument("pack_batch: empty selection");
  size_t t = 0;
  for (size_t i : idx) {
    if (i >= examples.size())
      throw std::invalid_argument("pack_batch: example index " + std::to_string(i) + " out of range");
    if (examples[i].size() < 2) throw std::invalid_argument("pack_batch: example shorter than 2 tokens");
    t = std::max(t, examples[i].size());
  }
  const auto b = static_cast<int64_t>(idx.size());
  LmBatch batch;
  batch.tokens = at::zeros({b, static_cast<int64_t>(t)}, at::kLong);
  batch.mask = at::zeros({b, static_cast<int64_t>(t)}, at::kFloat);
  auto* tok = batch.tokens.data_ptr<int64_t>();
  auto* msk = batch.mask.data_ptr<float>();
  for (int64_t r = 0; r < b; ++r) {
    const auto& ex = examples[idx[static_cast<size_t>(r)]];
    for (size_t j = 0; j < ex.size(); ++j) {
      tok[r * static_cast<int64_t>(t) + static_cast<int64_t>(j)] = ex[j];
      msk[r * static_cast<int64_t>(t) + static_cast<int64_t>(j)] = 1.0f;
    }
    batch.n_targets += static_cast<int64_t>(ex.size()) - 1;
  }
  return batch;
}

}  // namespace fedlora::lora
