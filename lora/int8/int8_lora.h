#pragma once
// A frozen projection and its LoRA adapter (Hu et al. 2021, eq. 3: h = W₀x + s·B·A·x) with
// the base products in int8 (int8_linear.h) and the adapter's thin rank-r products fused
// into the passes the int8 products make over the activations anyway:
//   forward:  x·Aᵀ is computed next to the quantization of x (the rows are in cache), and
//             s·(x·Aᵀ)·Bᵀ is added in the int32 → float32 rescale of y;
//   backward: δ·B next to the quantization of δ, and s·(δ·B)·A in the rescale of dx.
// That replaces two BLAS calls of rank-r width per pass (far below the BLAS's peak at r = 8)
// and one extra pass over y or dx each. The adapter's own gradient (kernels::
// lora_grad_accumulate_given) takes the δ·B written here. Torch-free; AVX-512F or AVX2 + FMA
// chosen at run time, portable loops elsewhere (aarch64 included).
#include <cstdint>

#include "lora/int8/int8_linear.h"

namespace fedlora::lora {

/// y = x·Wᵀ + s·(x·Aᵀ)·Bᵀ, the base product in int8 exactly as int8_linear_forward computes it,
/// the adapter's in float32. x: float32 [m, in]; a: lora_A float32 [r, in]; b: lora_B float32
/// [out, r]; y: float32 [m, out]; xa: float32 [m, r], receives x·Aᵀ. r ≥ 0 (r = 0 is the base
/// product alone). Throws std::invalid_argument if x holds a NaN or Inf, or r < 0.
void int8_lora_forward(const float* x, int64_t m, const Int8Weight& w, const float* a, const float* b, int64_t r,
                       float s, float* y, float* xa);

/// dx = δ·W + s·(δ·B)·A, the base product in int8 exactly as int8_linear_backward computes
/// it. δ: float32 [m, out]; a: float32 [r, in]; b: float32 [out, r]; dx: float32 [m, in];
/// delta_b: float32 [m, r], receives δ·B. Throws std::invalid_argument if δ holds a NaN or
/// Inf, or r < 0.
void int8_lora_backward(const float* delta, int64_t m, const Int8Weight& w, const float* a, const float* b, int64_t r,
                        float s, float* dx, float* delta_b);

/// p = x·cᵀ: p[i, t] = Σ_j x[i, j]·c[t, j]. x: float32 [m, k]; c: float32 [r, k]; p: float32
/// [m, r]. The thin product both functions above fuse, alone (δ·B when dx is not needed: c =
/// Bᵀ). Throws std::invalid_argument on a negative dimension.
void project_rows(const float* x, int64_t m, int64_t k, const float* c, int64_t r, float* p);

/// The widest kernels the functions above may use (the CPU still has to have them), the row
/// quantizer's included (row_quantize.h): for tests and benchmarks of each path on one
/// machine. Default avx512. Not thread-safe: set it before training starts.
enum class Int8LoraKernels { portable, avx2, avx512 };
void set_int8_lora_kernels(Int8LoraKernels widest);

/// The kernels in use on this machine: "avx512", "avx2" or "portable".
const char* int8_lora_kernels();

}  // namespace fedlora::lora
