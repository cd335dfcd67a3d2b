#pragma once
// Int8 products for the frozen base (SwitchBack, Wortsman et al. 2023, §2.2: "row-wise"
// int8 quantization of the activations and of the weight, int8 matrix multiply with int32
// accumulation, fp32 rescale). Both products a frozen projection needs in training go
// through it: the forward x·Wᵀ and the input gradient δ·W. Backed by oneDNN's s8×s8→s32
// matmul (AVX-512 VNNI / AVX2 / portable kernels chosen by oneDNN at run time).
#include <cstdint>
#include <vector>

#include "lora/quant/quantized_tensor.h"

namespace fedlora::lora {

/// Symmetric row-wise int8: s_i = max_j |x_ij·c_j| / 127, q_ij = round_half_even(x_ij·c_j / s_i)
/// in [−127, 127]. A row of zeros gets s_i = 0 and q = 0. x: float32 [rows, cols] row-major;
/// col_mul: optional float32 [cols] (c; nullptr = all ones); q: int8 [rows, cols];
/// scales: float32 [rows]. Throws std::invalid_argument on a non-finite input value.
void quantize_rows_s8(const float* x, int64_t rows, int64_t cols, const float* col_mul, int8_t* q, float* scales);

/// A frozen weight W [out, in] as row-wise int8 (W ≈ diag(scale) · q), built from its blocks
/// (via float32). For Q8_0 and Q4_0 the rows are re-quantized to one scale per row: the
/// added error is at most half an int8 step of the row's largest value.
struct Int8Weight {
  int64_t rows = 0, cols = 0;
  std::vector<int8_t> q;      ///< [rows, cols]
  std::vector<float> scale;   ///< [rows]
};

/// This thread's int8 copy of `w`, rebuilt only when a different weight is asked for (the
/// same scheme as dequantized_view in frozen_ops.h); valid until the next call on the thread.
const Int8Weight& int8_weight_view(const QuantizedTensor& w);

/// y = x · Wᵀ ≈ diag(s_x) · (q_x · q_Wᵀ) · diag(s_W). x: float32 [m, in]; y: float32 [m, out].
void int8_linear_forward(const float* x, int64_t m, const Int8Weight& w, float* y);

/// dx = δ · W ≈ diag(s_δ) · (q_δ · q_W), with δ's columns multiplied by s_W before δ is
/// quantized row-wise (so the weight's row scales fold in exactly). δ: float32 [m, out];
/// dx: float32 [m, in].
void int8_linear_backward(const float* delta, int64_t m, const Int8Weight& w, float* dx);

}  // namespace fedlora::lora
