#pragma once
// The LoRA projection y = x Wᵀ + (alpha/r) · (x Aᵀ) Bᵀ over a frozen quantized W
// (Hu et al. 2021, "LoRA", eq. 3), as one autograd node whose backward also yields
// per-example gradients of A and B when asked (Opacus-style, from the saved layer input
// and the back-propagated output gradient: g_i = Σ_t δ_{i,t} x_{i,t}ᵀ).
// Computed as one GEMM with the merged weight W + (alpha/r)·B·A in each direction (the
// merge is a rank-r update per call, independent of the batch); the adapter gradients are
// the four thin products s·(δB)ᵀx and s·δᵀ(xAᵀ).
#include <ATen/ATen.h>

#include <vector>

#include "lora/model/base_gemm.h"
#include "lora/quant/quantized_tensor.h"

namespace fedlora::lora {

/// Receives per-example gradients during one backward pass. `grads[slot]` is set to a
/// float32 [N, rows, cols] tensor for the adapter tensor in that slot (lora_A: [N, r, in],
/// lora_B: [N, out, r]), where N is the batch dimension of the layer input.
struct PerExampleGrads {
  std::vector<at::Tensor> grads;
};

/// x: float32 [N, T, in] (or [M, in] when no per-example gradients are needed);
/// w: frozen [out, in]; a: float32 [r, in]; b: float32 [out, r]; scale = alpha / r.
/// Returns float32 [..., out]. Gradients flow to x, a and b. If `sink` is non-null,
/// the backward pass also stores the per-example gradients of a and b in
/// sink->grads[slot_a] and sink->grads[slot_b] (x must then be 3-D).
/// With gemm = BaseGemm::int8 the base products x·Wᵀ and δ·W run in int8 (lora/int8/int8_linear.h) and
/// the LoRA path s·(x Aᵀ) Bᵀ (and its input gradient s·(δB)A) in fp32 beside them, with no
/// merged weight. Adapter gradients are exact fp32 either way (given the δ that reaches
/// the layer). With keep_xa (int8 only), x·Aᵀ [M, r] from the forward pass is kept for the
/// adapter gradient instead of recomputed: faster, but many small buffers live between the
/// passes, which fragments the heap (+50 MB peak at the 1.1B shape with checkpointing), so
/// LoraModel keeps it only without activation checkpointing. Throws std::invalid_argument on
/// shape mismatch.
at::Tensor lora_linear(const at::Tensor& x, const QuantizedTensor& w, const at::Tensor& a, const at::Tensor& b,
                       float scale, PerExampleGrads* sink = nullptr, size_t slot_a = 0, size_t slot_b = 0,
                       BaseGemm gemm = BaseGemm::fp32, bool keep_xa = false);

}  // namespace fedlora::lora
