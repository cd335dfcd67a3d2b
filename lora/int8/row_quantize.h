#pragma once
// Symmetric row-wise int8 quantization (SwitchBack, Wortsman et al. 2023, §2.2): the
// activations and weights of the int8 base products. Torch-free; AVX-512F or AVX2 (chosen at
// run time), NEON (aarch64 baseline) and scalar kernels, all bit-identical.
#include <cstdint>

namespace fedlora::lora {

/// s_i = max_j |x_ij·c_j| / 127, q_ij = round_half_even(x_ij·c_j / s_i) in [−127, 127]. A row
/// of zeros gets s_i = 0 and q = 0. x: float32 [rows, cols] row-major; col_mul: optional
/// float32 [cols] (c; nullptr = all ones); q: int8 [rows, cols]; scales: float32 [rows].
/// Throws std::invalid_argument on a non-finite input value or a negative shape.
void quantize_rows_s8(const float* x, int64_t rows, int64_t cols, const float* col_mul, int8_t* q, float* scales);

/// The widest x86 kernel quantize_rows_s8 may use (the CPU still has to have it): 0 scalar,
/// 1 AVX2, 2 AVX-512 (the default). For tests of each path on one machine; not thread-safe,
/// set it before any quantization runs. set_int8_lora_kernels (int8_lora.h) sets it too.
void set_row_quantize_kernels(int widest);

/// The scalar kernel of quantize_rows_s8 on every row (the tests' reference).
void quantize_rows_s8_ref(const float* x, int64_t rows, int64_t cols, const float* col_mul, int8_t* q, float* scales);

}  // namespace fedlora::lora
