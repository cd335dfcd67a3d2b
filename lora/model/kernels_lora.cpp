// LoRA adapter-gradient kernel (fused_kernels.h).
#include "lora/model/fused_kernels.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "lora/model/kernels_simd.h"

namespace fedlora::lora::kernels {
namespace {

using namespace detail;

// p[m, j] = Σ_k x[m, k] c[j, k] for j < r (x row stride ldx, c [r, k], p [rows, r]).
void xct_scalar(const float* x, int64_t rows, int64_t k, int64_t ldx, const float* c, int64_t r, float* p) {
  for (int64_t m = 0; m < rows; ++m)
    for (int64_t j = 0; j < r; ++j) {
      float acc = 0;
      for (int64_t i = 0; i < k; ++i) acc += x[m * ldx + i] * c[j * k + i];
      p[m * r + j] = acc;
    }
}

// z[j, :] += Σ_m y[m, j] x[m, :] (y [rows, r], x row stride ldx, z [r, k]).
void ytx_scalar(const float* y, int64_t r, const float* x, int64_t ldx, int64_t rows, int64_t k, float* z) {
  for (int64_t m = 0; m < rows; ++m)
    for (int64_t j = 0; j < r; ++j) {
      const float yv = y[m * r + j];
      for (int64_t i = 0; i < k; ++i) z[j * k + i] += yv * x[m * ldx + i];
    }
}

// p[m, j0 + j] for j < R: R dot products per row, 8 lanes at a time, then a transposing
// horizontal reduction.
template <int R>
FEDLORA_AVX2 void xct_block_avx2(const float* x, int64_t rows, int64_t k, int64_t ldx, const float* c, float* p,
                                 int64_t ldp) {
  for (int64_t m = 0; m < rows; ++m) {
    const float* xr = x + m * ldx;
    __m256 acc[R];
    for (int j = 0; j < R; ++j) acc[j] = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 8 <= k; i += 8) {
      const __m256 xv = _mm256_loadu_ps(xr + i);
      for (int j = 0; j < R; ++j) acc[j] = _mm256_fmadd_ps(xv, _mm256_loadu_ps(c + j * k + i), acc[j]);
    }
    for (int j = 0; j < R; ++j) {
      float s = hsum(acc[j]);
      for (int64_t t = i; t < k; ++t) s += xr[t] * c[j * k + t];
      p[m * ldp + j] = s;
    }
  }
}

// z[j, :] += Σ_m y[m, j0 + j] x[m, :] for j < R, 8 columns at a time with the R
// accumulators in registers across the rows.
template <int R>
FEDLORA_AVX2 void ytx_block_avx2(const float* y, int64_t ldy, const float* x, int64_t ldx, int64_t rows, int64_t k,
                                 float* z) {
  int64_t i = 0;
  for (; i + 8 <= k; i += 8) {
    __m256 acc[R];
    for (int j = 0; j < R; ++j) acc[j] = _mm256_loadu_ps(z + j * k + i);
    for (int64_t m = 0; m < rows; ++m) {
      const __m256 xv = _mm256_loadu_ps(x + m * ldx + i);
      const float* ym = y + m * ldy;
      for (int j = 0; j < R; ++j) acc[j] = _mm256_fmadd_ps(_mm256_broadcast_ss(ym + j), xv, acc[j]);
    }
    for (int j = 0; j < R; ++j) _mm256_storeu_ps(z + j * k + i, acc[j]);
  }
  for (; i < k; ++i)
    for (int64_t m = 0; m < rows; ++m)
      for (int j = 0; j < R; ++j) z[j * k + i] += y[m * ldy + j] * x[m * ldx + i];
}

// AVX-512 form of ytx_block_avx2 for a tile of C chunks of 16 columns from column i (the
// last chunk masked by `tail`): R·C accumulators in registers (24 of 32 at R = 8, C = 3), so
// each broadcast of y[m, j] feeds C FMAs and each load of x feeds R. About 3× the AVX2
// kernel's rate at the 135M shape's adapter gradients.
template <int R, int C>
FEDLORA_AVX512 inline void ytx_tile_avx512(const float* y, int64_t ldy, const float* x, int64_t ldx, int64_t rows,
                                           int64_t k, float* z, int64_t i, __mmask16 tail) {
  __m512 acc[R][C];
#pragma GCC unroll 8
  for (int j = 0; j < R; ++j)
#pragma GCC unroll 3
    for (int c = 0; c < C; ++c)
      acc[j][c] = c == C - 1 ? _mm512_maskz_loadu_ps(tail, z + j * k + i + 16 * c) : _mm512_loadu_ps(z + j * k + i + 16 * c);
  for (int64_t m = 0; m < rows; ++m) {
    const float* xm = x + m * ldx + i;
    __m512 xv[C];
#pragma GCC unroll 3
    for (int c = 0; c < C; ++c) xv[c] = c == C - 1 ? _mm512_maskz_loadu_ps(tail, xm + 16 * c) : _mm512_loadu_ps(xm + 16 * c);
    const float* ym = y + m * ldy;
#pragma GCC unroll 8
    for (int j = 0; j < R; ++j) {
      const __m512 b = _mm512_set1_ps(ym[j]);
#pragma GCC unroll 3
      for (int c = 0; c < C; ++c) acc[j][c] = _mm512_fmadd_ps(b, xv[c], acc[j][c]);
    }
  }
#pragma GCC unroll 8
  for (int j = 0; j < R; ++j)
#pragma GCC unroll 3
    for (int c = 0; c < C; ++c) {
      if (c == C - 1) {
        _mm512_mask_storeu_ps(z + j * k + i + 16 * c, tail, acc[j][c]);
      } else {
        _mm512_storeu_ps(z + j * k + i + 16 * c, acc[j][c]);
      }
    }
}

template <int R>
FEDLORA_AVX512 void ytx_block_avx512(const float* y, int64_t ldy, const float* x, int64_t ldx, int64_t rows, int64_t k,
                                     float* z) {
  int64_t i = 0;
  for (; i + 48 <= k; i += 48) ytx_tile_avx512<R, 3>(y, ldy, x, ldx, rows, k, z, i, 0xFFFF);
  for (; i < k; i += 16) {
    const int64_t left = k - i;
    const auto tail = left >= 16 ? __mmask16{0xFFFF} : static_cast<__mmask16>((1u << left) - 1u);
    ytx_tile_avx512<R, 1>(y, ldy, x, ldx, rows, k, z, i, tail);
  }
}

// Runs BlockFn<R> over r in blocks of 8 columns (the last block narrower).
template <template <int> class Fn, class... Args>
void over_rank_blocks(int64_t r, Args... args) {
  for (int64_t j0 = 0; j0 < r; j0 += 8) {
    switch (std::min<int64_t>(8, r - j0)) {
      case 1: Fn<1>::run(j0, args...); break;
      case 2: Fn<2>::run(j0, args...); break;
      case 3: Fn<3>::run(j0, args...); break;
      case 4: Fn<4>::run(j0, args...); break;
      case 5: Fn<5>::run(j0, args...); break;
      case 6: Fn<6>::run(j0, args...); break;
      case 7: Fn<7>::run(j0, args...); break;
      default: Fn<8>::run(j0, args...); break;
    }
  }
}

template <int R>
struct XctAvx2 {
  // p [rows, r], c [r, k]
  static void run(int64_t j0, const float* x, int64_t rows, int64_t k, int64_t ldx, const float* c, float* p,
                  int64_t r) {
    xct_block_avx2<R>(x, rows, k, ldx, c + j0 * k, p + j0, r);
  }
};

template <int R>
struct YtxAvx2 {
  // y [rows, r], z [r, k]
  static void run(int64_t j0, const float* y, int64_t r, const float* x, int64_t ldx, int64_t rows, int64_t k,
                  float* z) {
    if (avx512_path()) {
      ytx_block_avx512<R>(y + j0, r, x, ldx, rows, k, z + j0 * k);
    } else {
      ytx_block_avx2<R>(y + j0, r, x, ldx, rows, k, z + j0 * k);
    }
  }
};


}  // namespace

void lora_grad_accumulate(const float* x, const float* d, int64_t rows, int64_t in, int64_t out, const float* a,
                          const float* bt, int64_t r, float* da, float* dbt) {
  // Blocks of rows small enough that the block of x and of δ stay in L2 between the
  // product that reads them first and the one that reads them again.
  constexpr int64_t kBlock = 128;
  thread_local std::vector<float> gb, h;
  gb.resize(static_cast<size_t>(kBlock * r));
  h.resize(static_cast<size_t>(kBlock * r));
  const bool avx = simd_path();
  for (int64_t m0 = 0; m0 < rows; m0 += kBlock) {
    const int64_t mb = std::min(kBlock, rows - m0);
    const float *xb = x + m0 * in, *db = d + m0 * out;
    if (avx) {
      over_rank_blocks<XctAvx2>(r, db, mb, out, out, bt, gb.data(), r);  // δB   [mb, r]
      over_rank_blocks<XctAvx2>(r, xb, mb, in, in, a, h.data(), r);      // xAᵀ  [mb, r]
      over_rank_blocks<YtxAvx2>(r, static_cast<const float*>(gb.data()), r, xb, in, mb, in, da);
      over_rank_blocks<YtxAvx2>(r, static_cast<const float*>(h.data()), r, db, out, mb, out, dbt);
    } else {
      xct_scalar(db, mb, out, out, bt, r, gb.data());
      xct_scalar(xb, mb, in, in, a, r, h.data());
      ytx_scalar(gb.data(), r, xb, in, mb, in, da);
      ytx_scalar(h.data(), r, db, out, mb, out, dbt);
    }
  }
}

void lora_grad_accumulate_given(const float* x, const float* d, int64_t rows, int64_t in, int64_t out, const float* a,
                                const float* db, int64_t r, float* da, float* dbt) {
  constexpr int64_t kBlock = 128;  // as lora_grad_accumulate: x's block stays in L2 for its second read
  thread_local std::vector<float> h;
  h.resize(static_cast<size_t>(kBlock * r));
  const bool avx = simd_path();
  for (int64_t m0 = 0; m0 < rows; m0 += kBlock) {
    const int64_t mb = std::min(kBlock, rows - m0);
    const float *xb = x + m0 * in, *dblk = d + m0 * out, *gb = db + m0 * r;
    if (avx) {
      over_rank_blocks<XctAvx2>(r, xb, mb, in, in, a, h.data(), r);  // xAᵀ  [mb, r]
      over_rank_blocks<YtxAvx2>(r, gb, r, xb, in, mb, in, da);
      over_rank_blocks<YtxAvx2>(r, static_cast<const float*>(h.data()), r, dblk, out, mb, out, dbt);
    } else {
      xct_scalar(xb, mb, in, in, a, r, h.data());
      ytx_scalar(gb, r, xb, in, mb, in, da);
      ytx_scalar(h.data(), r, dblk, out, mb, out, dbt);
    }
  }
}

void lora_grad_accumulate_b(const float* d, int64_t rows, int64_t out, const float* xa, int64_t r, float* dbt) {
  if (simd_path()) {
    over_rank_blocks<YtxAvx2>(r, xa, r, d, out, rows, out, dbt);
  } else {
    ytx_scalar(xa, r, d, out, rows, out, dbt);
  }
}

void lora_grad_accumulate_a(const float* x, int64_t rows, int64_t in, const float* db, int64_t r, float* da) {
  if (simd_path()) {
    over_rank_blocks<YtxAvx2>(r, db, r, x, in, rows, in, da);
  } else {
    ytx_scalar(db, r, x, in, rows, in, da);
  }
}

void lora_grad_accumulate_saved(const float* x, const float* d, int64_t rows, int64_t in, int64_t out,
                                const float* xa, const float* db, int64_t r, float* da, float* dbt) {
  lora_grad_accumulate_a(x, rows, in, db, r, da);
  lora_grad_accumulate_b(d, rows, out, xa, r, dbt);
}

}  // namespace fedlora::lora::kernels
