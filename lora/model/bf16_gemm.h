#pragma once
// Float GEMMs whose operands may be rounded to bfloat16: the activation-by-activation
// products of attention and the LM head's input gradient on the int8 fast path. Row-wise
// int8 (lora/int8) suits the frozen projections, whose weights are fixed; these products
// either multiply two activations or carry one large entry per row among tiny ones (the
// cross-entropy's δ), where bf16's per-element exponent keeps what int8 would round away.
// bf16 keeps float32's 8-bit exponent and 8 of its 24 significand bits; products are
// accumulated in float32, as mixed-precision training does (Kalamkar et al. 2019, "A Study
// of BFLOAT16 for Deep Learning Training"). On this project's CPUs the product is oneDNN's
// matmul with AVX512_BF16 `vdpbf16ps` (2× the float32 FMA rate); where the CPU lacks
// AVX512_BF16 (or it is switched off), FloatProducts::bf16 runs the float32 sgemm instead.
#include <cstdint>

namespace fedlora::lora {

/// Operand precision of a float GEMM: float32 (the process's BLAS, sgemm_rowmajor) or
/// bfloat16 operands with float32 accumulation (gemm_bf16_rowmajor).
enum class FloatProducts { fp32, bf16 };

/// x rounded to the nearest bfloat16 (ties to even), returned as the float32 it denotes.
/// NaN stays NaN; ±Inf and values that round beyond the bf16 range give ±Inf.
float round_to_bf16(float x);

/// C = alpha · op(A)·op(B) + beta · C with every element of A and B first rounded to bf16
/// (round_to_bf16) and the products summed in float32 (summation order is oneDNN's). Layout
/// as sgemm_rowmajor (blas.h): row-major float32; op(A) [m, k] (A stored [m, k] with row
/// stride lda, or [k, m] when trans_a); op(B) [k, n] (stored [k, n], or [n, k] when
/// trans_b); C [m, n] with row stride ldc; with beta == 0, C is not read. Operands are
/// converted into per-thread scratch (2 bytes per element); primitives are cached per
/// thread and shape. Throws std::invalid_argument on a negative size or a stride shorter
/// than its row, std::runtime_error if oneDNN fails or bf16_products_available() is false.
void gemm_bf16_rowmajor(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
                        int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc);

/// The GEMM `p` asks for where it can run: gemm_bf16_rowmajor for bf16 when
/// bf16_products_available(), sgemm_rowmajor otherwise. Same contract as both.
void float_gemm_rowmajor(FloatProducts p, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                         const float* a, int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc);

/// True when the CPU has AVX512_BF16 and bf16 products are not switched off.
bool bf16_products_available();

/// Switches bf16 products off (false: FloatProducts::bf16 runs in float32) or back on, for
/// tests and benchmarks of both paths. Not thread-safe: set it before training starts.
void set_bf16_products(bool enabled);

}  // namespace fedlora::lora
