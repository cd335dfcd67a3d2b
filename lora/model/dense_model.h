#pragma once
// A trainable full-precision Llama decoder, used to pretrain the base model on the public
// proxy corpus before it is frozen and quantized for devices.
#include <ATen/ATen.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "lora/model/decoder.h"

namespace fedlora::lora {

class DenseModel final : public DecoderWeights {
 public:
  /// Random init (seeded): projections and embedding ~ N(0, 0.02²), output projections
  /// (attn_output, ffn_down) scaled by 1/√(2·n_layers) as in GPT-2 (Radford et al. 2019 §2.3),
  /// norms = 1. All tensors float32 with requires_grad.
  DenseModel(const LlamaConfig& cfg, uint64_t seed);

  const LlamaConfig& config() const override { return cfg_; }
  at::Tensor embed(const at::Tensor& tokens) override;
  at::Tensor project(int layer, TargetModule m, const at::Tensor& x) override;
  at::Tensor attn_norm(int layer) override { return attn_norm_[layer]; }
  at::Tensor ffn_norm(int layer) override { return ffn_norm_[layer]; }
  at::Tensor output_norm() override { return output_norm_; }
  at::Tensor lm_head(const at::Tensor& x) override;
  std::vector<at::Tensor> layer_parameters(int layer) override;

  /// Every trainable tensor, for an optimizer.
  std::vector<at::Tensor> parameters() const;
  /// Tensors that take weight decay (2-D matrices; not norms).
  std::vector<at::Tensor> decayed_parameters() const;
  std::vector<at::Tensor> undecayed_parameters() const;
  /// Weights named as llama.cpp names them in GGUF, with PyTorch shapes ([out, in]).
  std::vector<std::pair<std::string, at::Tensor>> named_weights() const;

 private:
  LlamaConfig cfg_;
  at::Tensor tok_embd_, output_, output_norm_;
  std::vector<at::Tensor> attn_norm_, ffn_norm_;
  std::vector<std::vector<at::Tensor>> proj_;  // [layer][TargetModule]
};

}  // namespace fedlora::lora
