#include "lora/model/lm_eval.h"

#include <cmath>
#include <stdexcept>
#include <vector>

#include "lora/model/lm_batch.h"

namespace fedlora::lora {

double StreamEval::loss() const { return n_targets ? loss_sum / static_cast<double>(n_targets) : 0.0; }
double StreamEval::perplexity() const { return std::exp(loss()); }
double StreamEval::accuracy() const {
  return n_targets ? static_cast<double>(correct) / static_cast<double>(n_targets) : 0.0;
}

StreamEval evaluate_stream(DecoderWeights& w, std::span<const int32_t> stream, int64_t batch) {
  if (stream.size() < 2) throw std::invalid_argument("evaluate_stream: need at least 2 tokens");
  if (batch < 1) throw std::invalid_argument("evaluate_stream: batch must be >= 1");
  at::NoGradGuard ng;
  const auto windows = make_windows(stream, w.config().context_length + 1);
  StreamEval out;
  std::vector<size_t> idx;
  for (size_t s = 0; s < windows.size(); s += static_cast<size_t>(batch)) {
    idx.clear();
    for (size_t i = s; i < std::min(windows.size(), s + static_cast<size_t>(batch)); ++i) idx.push_back(i);
    auto b = pack_batch(windows, idx);
    auto l = lm_loss(w, b.tokens, b.mask);
    out.loss_sum += l.sum.item<double>();
    out.n_targets += l.n_targets;
    out.correct += l.correct.item<int64_t>();
  }
  return out;
}

}  // namespace fedlora::lora
