#pragma once
// Differentiable ops over a frozen, quantized base weight (ggml block formats). The
// weight stays in its blocks; each call dequantizes into a per-thread scratch buffer
// (reused across layers) and runs an sgemm. Gradients flow to the activations, never to
// the weight. Backward recomputes the dequantized weight instead of keeping an fp32 copy,
// so resident memory is the blocks (~8.5 bits/weight for Q8_0, ~4.5 for Q4_0).
#include <ATen/ATen.h>

#include "lora/model/base_gemm.h"
#include "lora/model/bf16_gemm.h"
#include "lora/quant/quantized_tensor.h"

namespace fedlora::lora {

/// A float32 [rows, cols] tensor holding `w` dequantized. For F32 weights it views the
/// weight's own bytes (no copy). Otherwise it views this thread's scratch buffer and stays
/// valid until the next call on the same thread: consume it before calling again. The
/// scratch remembers the weight it holds (keeping a copy of the QuantizedTensor, hence its
/// bytes, alive) and skips decoding when the same weight is asked for again, e.g. the LM
/// head called on successive row chunks.
at::Tensor dequantized_view(const QuantizedTensor& w);

/// y = x Wᵀ. x: float32 [..., in]; w: [out, in] (any supported GgmlType) → float32 [..., out].
/// Differentiable in x only. With gemm = BaseGemm::int8 both y and the input gradient are
/// int8 products (lora/int8/int8_linear.h). Throws std::invalid_argument if x's last dim != in.
at::Tensor frozen_linear(const at::Tensor& x, const QuantizedTensor& w, BaseGemm gemm = BaseGemm::fp32);

/// frozen_linear with y from `forward_gemm` and the input gradient from `backward_gemm`;
/// a float (fp32) input gradient takes `backward_float` operands (bf16_gemm.h). The LM head
/// takes int8 for y and fp32 or bf16 for δ·W: the cross-entropy's δ (softmax − one-hot) is
/// one large entry per row among near-zero ones, which row-wise int8 rounds away (measured
/// on the 135M shape: median adapter-gradient error 6% → 14%) and bf16 keeps (each entry
/// has its own exponent).
at::Tensor frozen_linear(const at::Tensor& x, const QuantizedTensor& w, BaseGemm forward_gemm, BaseGemm backward_gemm,
                         FloatProducts backward_float = FloatProducts::fp32);

/// Rows of an embedding table: tokens int64 [...] → float32 [..., dim] with table [vocab, dim].
/// Not differentiable (the table is frozen and token ids are discrete).
at::Tensor frozen_embedding(const at::Tensor& tokens, const QuantizedTensor& table);

}  // namespace fedlora::lora
