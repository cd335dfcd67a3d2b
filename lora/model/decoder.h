#pragma once
// The Llama decoder forward pass (Touvron et al. 2023): token embedding, pre-norm blocks
// of RMSNorm → grouped-query causal attention with rotary embeddings → RMSNorm → SwiGLU
// MLP, final RMSNorm, LM head. Written once; where the weights come from (trainable
// floats for pretraining, a frozen quantized base plus LoRA for devices) is behind
// DecoderWeights.
#include <ATen/ATen.h>

#include <vector>

#include "lora/model/bf16_gemm.h"
#include "lora/model/llama_config.h"

namespace fedlora::lora {

/// Source of the decoder's weights. Implementations decide how a projection is computed
/// (dense matmul, dequantize-and-matmul, + LoRA) and which tensors get gradients.
class DecoderWeights {
 public:
  virtual ~DecoderWeights() = default;
  virtual const LlamaConfig& config() const = 0;
  /// tokens: int64 [N, T] → float32 [N, T, dim].
  virtual at::Tensor embed(const at::Tensor& tokens) = 0;
  /// x: float32 [..., in] → [..., out] for projection `m` of block `layer`.
  virtual at::Tensor project(int layer, TargetModule m, const at::Tensor& x) = 0;
  /// RMSNorm weights, float32 [dim].
  virtual at::Tensor attn_norm(int layer) = 0;
  virtual at::Tensor ffn_norm(int layer) = 0;
  virtual at::Tensor output_norm() = 0;
  /// x: float32 [..., dim] → logits float32 [..., vocab].
  virtual at::Tensor lm_head(const at::Tensor& x) = 0;
  /// The tensors that require grad and are read by block `layer` (its projections, their
  /// adapters, its two norm weights). Activation checkpointing makes them inputs of the
  /// block's autograd node, so their gradients flow through the recomputed block.
  virtual std::vector<at::Tensor> layer_parameters(int layer) = 0;
  /// Precision of attention's products (rope_causal_attention); float32 unless a model
  /// chooses the fast path.
  virtual FloatProducts attention_products() const { return FloatProducts::fp32; }

  /// Activation checkpointing per decoder block (Chen et al. 2016, "Training Deep Nets with
  /// Sublinear Memory Cost"): when on and gradients are recorded, the forward pass keeps only
  /// each block's input [N, T, dim] and backward recomputes the block. Gradients are the
  /// same up to float rounding; memory for activations drops from L blocks' worth to one
  /// block plus L inputs, for one more forward pass of compute. Off by default.
  void set_activation_checkpointing(bool on) { checkpoint_blocks_ = on; }
  bool activation_checkpointing() const { return checkpoint_blocks_; }

 private:
  bool checkpoint_blocks_ = false;
};

/// Precomputed rotary tables for positions [0, max_len): cos, sin float32 [max_len, head_dim/2],
/// θ_i = rope_theta^(−2i/head_dim) (Su et al. 2021, RoFormer §3.4). Pairs are adjacent
/// elements (2i, 2i+1) as in ggml's "normal" RoPE mode used by llama.cpp for LLM_ARCH_LLAMA.
struct RopeTables {
  at::Tensor cos, sin;
  static RopeTables make(const LlamaConfig& cfg, int64_t max_len);
};

/// Logits float32 [N, T, vocab] for int64 tokens [N, T], T <= context_length.
/// Throws std::invalid_argument on a bad token shape, T > context length, or ids out of range.
at::Tensor decoder_forward(DecoderWeights& w, const at::Tensor& tokens);

/// Next-token cross-entropy summed over predicted positions, and the count of them.
/// tokens int64 [N, T]; mask (optional) float32/bool [N, T]: position t of the target
/// sequence counts if mask[n, t] != 0 (targets are tokens[:, 1:], so mask[:, 0] is unused).
struct LmLoss {
  at::Tensor sum;        ///< scalar float32, Σ −log p(target)
  at::Tensor per_example;///< float32 [N], Σ over each sequence's targets
  int64_t n_targets = 0; ///< number of predicted positions counted
  at::Tensor correct;    ///< scalar int64: argmax == target count (no grad)
};
LmLoss lm_loss(DecoderWeights& w, const at::Tensor& tokens, const at::Tensor& mask = {});

}  // namespace fedlora::lora
