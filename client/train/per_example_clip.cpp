#include "client/train/per_example_clip.h"

#include <cmath>
#include <cstring>
#include <span>
#include <stdexcept>
#include <string>

#include "privacy/common/l2_clip.h"
#include "privacy/errors.h"

namespace fedlora::client {

int64_t per_example_batch_size(const lora::PerExampleGrads& g, const lora::AdapterLayout& layout) {
  const auto& ts = layout.tensors();
  if (g.grads.size() != ts.size())
    throw std::invalid_argument("per-example gradients: " + std::to_string(g.grads.size()) + " slots for " +
                                std::to_string(ts.size()) +
                                " adapter tensors; was the sink set on the LoraModel during backward?");
  int64_t b = -1;
  for (size_t k = 0; k < ts.size(); ++k) {
    const auto& t = g.grads[k];
    if (!t.defined() || t.dim() != 3 || t.scalar_type() != at::kFloat || t.size(1) != ts[k].rows ||
        t.size(2) != ts[k].cols)
      throw std::invalid_argument("per-example gradients: slot " + std::to_string(k) + " (" + ts[k].name +
                                  ") is missing or not float32 [B, " + std::to_string(ts[k].rows) + ", " +
                                  std::to_string(ts[k].cols) + "]");
    if (b < 0) b = t.size(0);
    if (t.size(0) != b)
      throw std::invalid_argument("per-example gradients: slot " + std::to_string(k) + " has batch " +
                                  std::to_string(t.size(0)) + ", slot 0 has " + std::to_string(b));
  }
  return b < 0 ? 0 : b;
}

std::vector<double> per_example_l2_norms(const lora::PerExampleGrads& g, const lora::AdapterLayout& layout) {
  const int64_t b = per_example_batch_size(g, layout);
  at::Tensor sq = at::zeros({b}, at::kDouble);
  for (const auto& t : g.grads) sq.add_(t.reshape({b, -1}).to(at::kDouble).square_().sum(1));
  sq.sqrt_();
  return std::vector<double>(sq.data_ptr<double>(), sq.data_ptr<double>() + b);
}

std::vector<double> clip_per_example(lora::PerExampleGrads& g, const lora::AdapterLayout& layout, double l2_norm_clip) {
  auto norms = per_example_l2_norms(g, layout);
  const auto b = static_cast<int64_t>(norms.size());
  at::Tensor factors = at::empty({b}, at::kFloat);
  auto* f = factors.data_ptr<float>();
  bool any = false;
  for (int64_t i = 0; i < b; ++i) {  // all factors first: throws before anything is modified
    const double c = privacy::clip_factor(norms[static_cast<size_t>(i)], l2_norm_clip);
    f[i] = static_cast<float>(c);
    any = any || c < 1.0;
  }
  if (any) {
    const auto view = factors.view({b, 1, 1});
    for (auto& t : g.grads) t.mul_(view);
  }
  return norms;
}

std::vector<double> sum_per_example(const lora::PerExampleGrads& g, const lora::AdapterLayout& layout) {
  per_example_batch_size(g, layout);
  std::vector<double> out(static_cast<size_t>(layout.size()), 0.0);
  const auto& ts = layout.tensors();
  for (size_t k = 0; k < ts.size(); ++k) {
    auto s = g.grads[k].sum(0, /*keepdim=*/false, at::kDouble).contiguous();
    std::memcpy(out.data() + ts[k].offset, s.data_ptr<double>(), sizeof(double) * static_cast<size_t>(ts[k].numel()));
  }
  return out;
}

std::vector<float> privatize_sum(std::vector<double> sum, double noise_multiplier, double l2_norm_clip,
                                 double expected_batch_size, privacy::NoiseSource& noise) {
  const double stddev = noise_multiplier * l2_norm_clip;
  if (!(stddev >= 0) || !std::isfinite(stddev))
    throw privacy::InvalidPrivacyParameter("privatize_sum: noise stddev σ·C = " + std::to_string(stddev) +
                                           " must be finite and >= 0");
  if (!(expected_batch_size > 0) || !std::isfinite(expected_batch_size))
    throw privacy::InvalidPrivacyParameter("privatize_sum: expected batch size q·N = " +
                                           std::to_string(expected_batch_size) + " must be finite and > 0");
  noise.add_gaussian(std::span<double>(sum), stddev);
  std::vector<float> out(sum.size());
  for (size_t i = 0; i < sum.size(); ++i) out[i] = static_cast<float>(sum[i] / expected_batch_size);
  return out;
}

}  // namespace fedlora::client
