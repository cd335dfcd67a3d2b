#pragma once
// Row-major single-precision GEMM straight into the BLAS that LibTorch already loaded
// (the Fortran `sgemm_` symbol, found once with dlsym: Debian ships no libblas link name
// for our targets, see docs/build.md). The fused ops call it on raw pointers: per-head
// attention blocks and LoRA's rank-r products are small enough that at::mm's dispatch,
// allocation and stride checks cost a visible share of the time.
#include <cstdint>

namespace fedlora::lora {

/// C = alpha · op(A) · op(B) + beta · C, all row-major float32.
/// op(A) is [m, k] (A stored [m, k] with row stride lda, or [k, m] when trans_a);
/// op(B) is [k, n] (B stored [k, n] with row stride ldb, or [n, k] when trans_b);
/// C is [m, n] with row stride ldc. With beta == 0, C is not read (may hold NaN).
/// Uses the process's BLAS sgemm_ (LP64: every size and stride must fit int32, else
/// std::invalid_argument); if no sgemm_ symbol is loaded it computes the same product
/// with at::mm / addmm on views of the pointers.
void sgemm_rowmajor(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
                    int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc);

/// True when sgemm_rowmajor calls the BLAS directly (the sgemm_ symbol was found and the
/// direct path is not switched off).
bool direct_blas_available();

/// Switches the direct sgemm_ call off (false: always the ATen path) or back on (true),
/// process-wide. For tests of both paths; not thread-safe.
void set_direct_blas(bool enabled);

}  // namespace fedlora::lora
