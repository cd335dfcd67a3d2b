#include "lora/model/train_flops.h"

#include <algorithm>
#include <stdexcept>

#include "lora/model/attention.h"

namespace fedlora::lora {

double train_flop_per_token(const LlamaConfig& c, std::span<const TargetModule> adapted, int64_t rank, int64_t seq_len,
                            int64_t tokens_per_step, bool checkpointed) {
  if (rank < 1) throw std::invalid_argument("train_flop_per_token: rank must be >= 1");
  if (seq_len < 1 || seq_len > c.context_length)
    throw std::invalid_argument("train_flop_per_token: seq_len " + std::to_string(seq_len) + " outside [1, " +
                                std::to_string(c.context_length) + "]");
  if (tokens_per_step < seq_len) throw std::invalid_argument("train_flop_per_token: tokens_per_step < seq_len");
  double p = 0, p0 = 0, pa = 0, p0a = 0, s = 0;
  const double layers = static_cast<double>(c.n_layers);
  for (TargetModule m : kAllTargetModules) {
    const auto sh = c.projection(m);
    const double io = static_cast<double>(sh.in_features) * static_cast<double>(sh.out_features);
    p += layers * io;
    if (m == TargetModule::q || m == TargetModule::k || m == TargetModule::v) p0 += io;
    if (std::find(adapted.begin(), adapted.end(), m) != adapted.end()) {
      pa += layers * io;
      if (m == TargetModule::q || m == TargetModule::k || m == TargetModule::v) p0a += io;
      s += layers * static_cast<double>(sh.in_features + sh.out_features);
    }
  }
  const double vd = static_cast<double>(c.vocab_size) * static_cast<double>(c.dim);
  const double att = 12.0 * static_cast<double>(c.dim) * layers *
                     static_cast<double>(attention_scores_computed(seq_len)) / static_cast<double>(seq_len);
  const double r = static_cast<double>(rank);
  double per_token = 4 * p + 4 * vd - 2 * p0 + 4 * r * s + att;
  double merges = 2 * r * pa + 2 * r * (pa - p0a);
  if (checkpointed) {
    per_token += 2 * p + att / 3;
    merges += 2 * r * pa;
  }
  return per_token + merges / static_cast<double>(tokens_per_step);
}

}  // namespace fedlora::lora
