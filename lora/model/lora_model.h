#pragma once
// A device's trainable model: the shared frozen BaseModel plus one LoRA adapter
// (Hu et al. 2021). Only the adapter's lora_A / lora_B tensors require gradients.
#include <ATen/ATen.h>

#include <memory>
#include <span>
#include <vector>

#include "lora/adapter/adapter_layout.h"
#include "lora/model/base_model.h"
#include "lora/model/decoder.h"
#include "lora/model/lora_ops.h"

namespace fedlora::lora {

/// LoRA tensors as LibTorch leaves, one per AdapterLayout entry (same order).
class LoraAdapter {
 public:
  /// All-zero tensors of the layout's shapes, requires_grad = true.
  explicit LoraAdapter(AdapterLayout layout);
  const AdapterLayout& layout() const { return layout_; }
  /// tensors()[i] is float32 [rows, cols] of layout().tensors()[i].
  const std::vector<at::Tensor>& tensors() const { return tensors_; }
  /// Copies a flat vector in layout order into the tensors (throws AdapterError on size).
  void load_flat(std::span<const float> flat);
  /// The tensors concatenated in layout order.
  std::vector<float> to_flat() const;
  /// Flat concatenation of the tensors' .grad() (zeros where a grad is undefined).
  std::vector<float> grad_to_flat() const;

 private:
  AdapterLayout layout_;
  std::vector<at::Tensor> tensors_;
};

/// DecoderWeights over a frozen base and an adapter. Not thread-safe itself: one
/// LoraModel per device thread; the BaseModel behind it may be shared.
class LoraModel final : public DecoderWeights {
 public:
  LoraModel(std::shared_ptr<const BaseModel> base, LoraAdapter& adapter);
  const LlamaConfig& config() const override { return base_->config; }
  at::Tensor embed(const at::Tensor& tokens) override;
  at::Tensor project(int layer, TargetModule m, const at::Tensor& x) override;
  at::Tensor attn_norm(int layer) override { return base_->blocks[layer].attn_norm; }
  at::Tensor ffn_norm(int layer) override { return base_->blocks[layer].ffn_norm; }
  at::Tensor output_norm() override { return base_->output_norm; }
  at::Tensor lm_head(const at::Tensor& x) override;
  /// lora_A and lora_B of the layer's adapted projections (the base is frozen).
  std::vector<at::Tensor> layer_parameters(int layer) override;

  /// How the projections' base products are computed (base_gemm.h); fp32 by default. With
  /// int8 products the thread keeps the whole base in int8 (one byte per projection weight,
  /// plus a scale per row) unless activation checkpointing is on, when each use re-quantizes
  /// the weight from its blocks instead (lora/int8/int8_linear.h). The LM head's forward is
  /// int8 too; its input gradient and attention's products take bf16 operands (bf16_gemm.h)
  /// where the CPU has AVX512_BF16, float32 elsewhere.
  void set_base_gemm(BaseGemm g) { gemm_ = g; }
  BaseGemm base_gemm() const { return gemm_; }
  FloatProducts attention_products() const override {
    return gemm_ == BaseGemm::int8 ? FloatProducts::bf16 : FloatProducts::fp32;
  }
  /// When set, backward passes store per-example adapter gradients there (slot = layout index).
  void set_per_example_sink(PerExampleGrads* sink) { sink_ = sink; }
  const BaseModel& base() const { return *base_; }
  LoraAdapter& adapter() { return adapter_; }

 private:
  std::shared_ptr<const BaseModel> base_;
  LoraAdapter& adapter_;
  PerExampleGrads* sink_ = nullptr;
  BaseGemm gemm_ = BaseGemm::fp32;
  std::size_t int8_base_bytes_ = 0;  ///< the projections as row-wise int8
};

}  // namespace fedlora::lora
