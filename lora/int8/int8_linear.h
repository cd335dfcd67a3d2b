#pragma once
// Int8 products for the frozen base (SwitchBack, Wortsman et al. 2023, §2.2: "row-wise"
// int8 quantization of the activations and of the weight, int8 matrix multiply with int32
// accumulation, fp32 rescale). Both products a frozen projection needs in training go
// through it: the forward x·Wᵀ and the input gradient δ·W. Torch-free: row quantization in
// row_quantize.h, the integer product in s8_gemm.h (oneDNN on x86-64, NEON SDOT on aarch64).
#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

#include "lora/int8/row_quantize.h"
#include "lora/int8/s8_gemm.h"
#include "lora/quant/quantized_tensor.h"

namespace fedlora::lora {

/// A frozen weight W [out, in] as row-wise int8 (W ≈ diag(scale) · q), built from its blocks
/// (via float32). For Q8_0 and Q4_0 the rows are re-quantized to one scale per row: the
/// added error is at most half an int8 step of the row's largest value.
/// In the thread's weight cache (set_int8_weight_cache_bytes > 0) and where the backend has a
/// packed layout (oneDNN), q is held only as the two packed matrices the products use: q as
/// [n = rows, k = cols] for the forward x·Wᵀ and as [k = rows, n = cols] for the input gradient
/// δ·W (s8_gemm.h, PackedS8Matrix); q itself is then empty. Otherwise q is plain and the
/// packed matrices are empty. Use int8_forward_product / int8_backward_product, which take
/// either form. Packed matrices belong to the thread that built them.
struct Int8Weight {
  int64_t rows = 0, cols = 0;
  std::vector<int8_t> q;      ///< [rows, cols], or empty when packed
  std::vector<float> scale;   ///< [rows]
  PackedS8Matrix forward_b;   ///< qᵀ packed: B of the forward product (k = cols, n = rows)
  PackedS8Matrix backward_b;  ///< q packed: B of the input-gradient product (k = rows, n = cols)
};

/// acc [m, rows] = q_x [m, cols] · qᵀ in int32, from whichever form w holds.
void int8_forward_product(const int8_t* qx, int64_t m, const Int8Weight& w, int32_t* acc);

/// acc [m, cols] = q_δ [m, rows] · q in int32, from whichever form w holds.
void int8_backward_product(const int8_t* qd, int64_t m, const Int8Weight& w, int32_t* acc);

/// The same products a block of columns at a time: for packed matrices panel by panel
/// (PackedS8Matrix::kPanelCols columns) into a compact int32 [m, nb] buffer, calling
/// consume(j0, nb, block) while the block is still in L2; for plain weights one block of all
/// columns. The block is valid during the call only. Same int32 values as the whole product.
using ProductBlockFn = std::function<void(int64_t j0, int64_t nb, const int32_t* block)>;
void int8_forward_product_blocks(const int8_t* qx, int64_t m, const Int8Weight& w, const ProductBlockFn& consume);
void int8_backward_product_blocks(const int8_t* qd, int64_t m, const Int8Weight& w, const ProductBlockFn& consume);

/// This thread's int8 copy of `w`: re-quantized from its blocks unless the thread's cache
/// (set_int8_weight_cache_bytes) still holds it. Valid until the next call on the thread.
const Int8Weight& int8_weight_view(const QuantizedTensor& w);

/// Bytes of int8 weights this thread keeps between uses (q and scales, least recently used
/// evicted first). 0, the default, keeps only the weight in use, so every use re-quantizes
/// it from its blocks: the memory-lean choice (activation checkpointing). A whole base's
/// int8 bytes (int8_weight_bytes summed over its projections) re-quantizes each weight once
/// per thread, for that much memory. Takes effect at the next int8_weight_view.
void set_int8_weight_cache_bytes(std::size_t bytes);

/// Bytes the weight cache holds for a [rows, cols] weight: rows float scales plus, where the
/// backend packs (oneDNN), both packed matrices (about 2·rows·cols), else rows·cols int8. Size
/// caches with this. Throws std::invalid_argument on a negative shape.
std::size_t int8_weight_bytes(int64_t rows, int64_t cols);

/// Bytes of the plain form alone: rows·cols int8 + rows float scales (the one weight in use
/// when the cache keeps nothing: activation checkpointing's setting).
inline std::size_t int8_plain_weight_bytes(int64_t rows, int64_t cols) {
  return static_cast<std::size_t>(rows * cols + rows * static_cast<int64_t>(sizeof(float)));
}

/// y = x · Wᵀ ≈ diag(s_x) · (q_x · q_Wᵀ) · diag(s_W). x: float32 [m, in]; y: float32 [m, out].
/// Throws std::invalid_argument if x holds a NaN or Inf (quantize_rows_s8).
void int8_linear_forward(const float* x, int64_t m, const Int8Weight& w, float* y);

/// dx = δ · W ≈ diag(s_δ) · (q_δ · q_W), with δ's columns multiplied by s_W before δ is
/// quantized row-wise (so the weight's row scales fold in exactly). δ: float32 [m, out];
/// dx: float32 [m, in]. Throws std::invalid_argument if δ holds a NaN or Inf.
void int8_linear_backward(const float* delta, int64_t m, const Int8Weight& w, float* dx);

}  // namespace fedlora::lora
