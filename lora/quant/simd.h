#pragma once
// Runtime CPU dispatch for the quant kernels. The default build has no -march flags, so
// the AVX2/F16C kernels are compiled per function with __attribute__((target(...))) and
// chosen once at run time with __builtin_cpu_supports; every other CPU runs the scalar
// reference loops. Both paths give bit-identical results (tests/lora/quant).
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace fedlora::lora {

struct BlockQ8_0;
struct BlockQ4_0;

/// True when the running CPU (and OS) support AVX2 and F16C, i.e. the fast kernels run.
bool quant_simd_available();

/// "avx2+f16c" or "scalar": which kernels the fast entry points use on this machine.
std::string_view quant_kernel_path();

namespace detail {
// One block of the reference quantizers (q8_0.cpp, q4_0.cpp): x points at 32 floats.
void quantize_block_q8_0_ref(const float* x, BlockQ8_0* y);
void quantize_block_q4_0_ref(const float* x, BlockQ4_0* y);

// Index of the first NaN or ±Inf in x[0, n), or n if there is none. Vectorisable scan:
// the block quantizers call it on every input before touching it.
size_t first_non_finite(const float* x, size_t n);

// ggml converts float to int8_t with a plain C cast. In range that truncates toward zero;
// out of range (only when a block's scale underflows so far that 1/d is Inf, i.e. max|x|
// below ~3.7e-37 for Q8_0 or ~2.3e-38 for Q4_0) C leaves it undefined and ggml's x86-64
// build yields the low byte of cvttss2si's 0x80000000, i.e. 0. We pin that result.
inline int8_t ggml_x86_to_int8(float v) {
  if (!(v > -2147483648.0f && v < 2147483648.0f)) return 0;  // NaN, ±Inf, |v| >= 2^31
  return static_cast<int8_t>(static_cast<int32_t>(v));        // modulo 2^8 (C++20)
}


// AVX2 + F16C kernels; call only when quant_simd_available(). Sizes are in blocks or
// elements, already validated by the caller.
void fp16_to_fp32_avx2(const uint16_t* src, float* dst, size_t n);
void fp32_to_fp16_avx2(const float* src, uint16_t* dst, size_t n);
void dequantize_q8_0_avx2(const BlockQ8_0* x, float* y, size_t n_blocks);
void dequantize_q4_0_avx2(const BlockQ4_0* x, float* y, size_t n_blocks);
void quantize_q8_0_avx2(const float* x, BlockQ8_0* y, size_t n_blocks);
void quantize_q4_0_avx2(const float* x, BlockQ4_0* y, size_t n_blocks);
}  // namespace detail

}  // namespace fedlora::lora
