#pragma once
// CPU dispatch for the quant kernels. On x86 the default build has no -march flags, so
// the AVX2/F16C kernels are compiled per function with __attribute__((target(...))) and
// chosen once at run time with __builtin_cpu_supports. On aarch64 NEON (Advanced SIMD) is
// part of the base ISA, so the NEON kernels (dequantize_neon.cpp, quantize_neon.cpp) are
// always used there. Every other CPU runs the scalar reference loops. All paths give
// bit-identical results (tests/lora/quant; cross-checked under qemu by scripts/test-arm.sh).
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace fedlora::lora {

struct BlockQ8_0;
struct BlockQ4_0;

/// True when the fast kernels run: on x86 when the running CPU (and OS) support AVX2 and
/// F16C, on aarch64 always (NEON), elsewhere never.
bool quant_simd_available();

/// "avx2+f16c", "neon" or "scalar": which kernels the fast entry points use on this machine.
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


// The fast-path entry points that fp16.cpp, q8_0.cpp and q4_0.cpp call; call only when
// quant_simd_available(). They keep their historical _avx2 names: on x86 they are the
// AVX2 + F16C kernels, on aarch64 they forward to the _neon kernels below. Sizes are in
// blocks or elements, already validated by the caller.
void fp16_to_fp32_avx2(const uint16_t* src, float* dst, size_t n);
void fp32_to_fp16_avx2(const float* src, uint16_t* dst, size_t n);
void dequantize_q8_0_avx2(const BlockQ8_0* x, float* y, size_t n_blocks);
void dequantize_q4_0_avx2(const BlockQ4_0* x, float* y, size_t n_blocks);
void quantize_q8_0_avx2(const float* x, BlockQ8_0* y, size_t n_blocks);
void quantize_q4_0_avx2(const float* x, BlockQ4_0* y, size_t n_blocks);

#if defined(__aarch64__)
// NEON kernels (baseline Advanced SIMD only, no dotprod/fp16 extensions), same contracts.
// The fp16 conversions use integer lane arithmetic, like the scalar fp16.h functions, so
// they ignore FPCR (rounding mode, flush-to-zero) exactly as the scalar path does.
void fp16_to_fp32_neon(const uint16_t* src, float* dst, size_t n);
void fp32_to_fp16_neon(const float* src, uint16_t* dst, size_t n);
void dequantize_q8_0_neon(const BlockQ8_0* x, float* y, size_t n_blocks);
void dequantize_q4_0_neon(const BlockQ4_0* x, float* y, size_t n_blocks);
void quantize_q8_0_neon(const float* x, BlockQ8_0* y, size_t n_blocks);
void quantize_q4_0_neon(const float* x, BlockQ4_0* y, size_t n_blocks);
#endif
}  // namespace detail

}  // namespace fedlora::lora
