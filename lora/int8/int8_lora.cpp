#include "lora/int8/int8_lora.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include <algorithm>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "lora/int8/int8_scratch.h"
#include "lora/int8/row_quantize.h"
#include "lora/int8/s8_gemm.h"

namespace fedlora::lora {
namespace {

using detail::sized;
using Scratch = detail::Int8Scratch;
Scratch& scratch() { return detail::int8_scratch(); }

// Rows per block of quantize + project: a block of x stays in L2 between the two reads.
constexpr int64_t kBlockRows = 32;

void project_rows_portable(const float* x, int64_t m, int64_t k, const float* c, int64_t r, float* p) {
  for (int64_t i = 0; i < m; ++i)
    for (int64_t t = 0; t < r; ++t) {
      float acc = 0.0f;
      for (int64_t j = 0; j < k; ++j) acc += x[i * k + j] * c[t * k + j];
      p[i * r + t] = acc;
    }
}

// y[i, j] = acc[i, j]·rs[i]·cs[j] + Σ_t (s·p[i, t])·c[t, j]; cs may be null (all ones).
// Row strides: acc lda, c ldc, y ldy (a block of columns of wider matrices).
void rescale_add_lowrank_portable(const int32_t* acc, int64_t lda, int64_t m, int64_t n, const float* rs,
                                  const float* cs, const float* p, int64_t r, const float* c, int64_t ldc, float s,
                                  float* y, int64_t ldy) {
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      float v = static_cast<float>(acc[i * lda + j]) * rs[i];
      if (cs) v *= cs[j];
      for (int64_t t = 0; t < r; ++t) v += (s * p[i * r + t]) * c[t * ldc + j];
      y[i * ldy + j] = v;
    }
}

// Calls f(std::integral_constant<int, R>{}, t0) for the ranks [t0, t0 + R) in blocks of up
// to 8, so that a kernel's per-row accumulators are a compile-time count.
template <class F>
void for_rank_blocks(int64_t r, F&& f) {
  for (int64_t t0 = 0; t0 < r; t0 += 8) {
    switch (std::min<int64_t>(8, r - t0)) {
      case 1: f(std::integral_constant<int, 1>{}, t0); break;
      case 2: f(std::integral_constant<int, 2>{}, t0); break;
      case 3: f(std::integral_constant<int, 3>{}, t0); break;
      case 4: f(std::integral_constant<int, 4>{}, t0); break;
      case 5: f(std::integral_constant<int, 5>{}, t0); break;
      case 6: f(std::integral_constant<int, 6>{}, t0); break;
      case 7: f(std::integral_constant<int, 7>{}, t0); break;
      default: f(std::integral_constant<int, 8>{}, t0); break;
    }
  }
}

#if defined(__x86_64__)
#define FEDLORA_INT8_AVX2 __attribute__((target("avx2,fma")))

FEDLORA_INT8_AVX2 inline float hsum8(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// p[i, t0 + t] for t < R, with the R accumulators of a row in registers.
template <int R>
FEDLORA_INT8_AVX2 void project_block_avx2(const float* x, int64_t m, int64_t k, const float* c, int64_t t0,
                                          int64_t r, float* p) {
  const float* ct = c + t0 * k;
  for (int64_t i = 0; i < m; ++i) {
    const float* xi = x + i * k;
    __m256 acc[R];
#pragma GCC unroll 8
    for (int t = 0; t < R; ++t) acc[t] = _mm256_setzero_ps();
    int64_t j = 0;
    for (; j + 8 <= k; j += 8) {
      const __m256 xv = _mm256_loadu_ps(xi + j);
#pragma GCC unroll 8
      for (int t = 0; t < R; ++t) acc[t] = _mm256_fmadd_ps(xv, _mm256_loadu_ps(ct + t * k + j), acc[t]);
    }
#pragma GCC unroll 8
    for (int t = 0; t < R; ++t) {
      float v = hsum8(acc[t]);
      for (int64_t jj = j; jj < k; ++jj) v += xi[jj] * ct[t * k + jj];
      p[i * r + t0 + t] = v;
    }
  }
}

void project_rows_avx2(const float* x, int64_t m, int64_t k, const float* c, int64_t r, float* p) {
  for_rank_blocks(r, [&](auto R, int64_t t0) { project_block_avx2<decltype(R)::value>(x, m, k, c, t0, r, p); });
}

// y[i0..i0+4, j..j+16]: the rescaled int32 products, then + sp·c as a 4 × r by r × 16 product
// with eight independent accumulators (two FMA pipes × four-cycle latency), so the FMAs
// never wait on each other.
// RC > 0: the rank as a compile-time constant (the t loop unrolls); 0: r at run time.
template <int RC>
FEDLORA_INT8_AVX2 inline void rescale_add_tile_4x16(const int32_t* acc, int64_t lda, const float* rs, const float* cs,
                                                   const float* sp, int64_t r_run, const float* c, int64_t ldc,
                                                   float* y, int64_t ldy) {
  const int64_t r = RC > 0 ? RC : r_run;
  __m256 v0[4], v1[4];
#pragma GCC unroll 4
  for (int q = 0; q < 4; ++q) {
    const __m256 row = _mm256_set1_ps(rs[q]);
    const auto* aq = reinterpret_cast<const __m256i*>(acc + q * lda);
    v0[q] = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_loadu_si256(aq)), row);
    v1[q] = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_loadu_si256(aq + 1)), row);
  }
  if (cs) {
    const __m256 c0 = _mm256_loadu_ps(cs), c1 = _mm256_loadu_ps(cs + 8);
  #pragma GCC unroll 4
  for (int q = 0; q < 4; ++q) {
      v0[q] = _mm256_mul_ps(v0[q], c0);
      v1[q] = _mm256_mul_ps(v1[q], c1);
    }
  }
#pragma GCC unroll 16
  for (int64_t t = 0; t < r; ++t) {
    const __m256 c0 = _mm256_loadu_ps(c + t * ldc), c1 = _mm256_loadu_ps(c + t * ldc + 8);
  #pragma GCC unroll 4
  for (int q = 0; q < 4; ++q) {
      const __m256 b = _mm256_broadcast_ss(sp + q * r + t);
      v0[q] = _mm256_fmadd_ps(b, c0, v0[q]);
      v1[q] = _mm256_fmadd_ps(b, c1, v1[q]);
    }
  }
#pragma GCC unroll 4
  for (int q = 0; q < 4; ++q) {
    _mm256_storeu_ps(y + q * ldy, v0[q]);
    _mm256_storeu_ps(y + q * ldy + 8, v1[q]);
  }
}

FEDLORA_INT8_AVX2 void rescale_add_lowrank_avx2(const int32_t* acc, int64_t lda, int64_t m, int64_t n,
                                                const float* rs, const float* cs, const float* p, int64_t r,
                                                const float* c, int64_t ldc, float s, float* y, int64_t ldy) {
  constexpr int kRows = 4;
  thread_local std::vector<float> sp_buf;  // s·p for the current rows
  if (sp_buf.size() < static_cast<size_t>(kRows * r)) sp_buf.resize(static_cast<size_t>(kRows * r));
  float* sp = sp_buf.data();
  int64_t i = 0;
  for (; i + kRows <= m; i += kRows) {
    for (int64_t e = 0; e < kRows * r; ++e) sp[e] = s * p[i * r + e];
    int64_t j = 0;
    for (; j + 16 <= n; j += 16) {
      const int32_t* at = acc + i * lda + j;
      const float* ct = cs ? cs + j : nullptr;
      float* yt = y + i * ldy + j;
      switch (r) {  // the usual LoRA ranks get an unrolled tile
        case 4: rescale_add_tile_4x16<4>(at, lda, rs + i, ct, sp, r, c + j, ldc, yt, ldy); break;
        case 8: rescale_add_tile_4x16<8>(at, lda, rs + i, ct, sp, r, c + j, ldc, yt, ldy); break;
        case 16: rescale_add_tile_4x16<16>(at, lda, rs + i, ct, sp, r, c + j, ldc, yt, ldy); break;
        default: rescale_add_tile_4x16<0>(at, lda, rs + i, ct, sp, r, c + j, ldc, yt, ldy); break;
      }
    }
    if (j < n) {
      // The tail columns of these rows, as the portable loop computes them.
      for (int q = 0; q < kRows; ++q)
        for (int64_t jj = j; jj < n; ++jj) {
          float v = static_cast<float>(acc[(i + q) * lda + jj]) * rs[i + q];
          if (cs) v *= cs[jj];
          for (int64_t t = 0; t < r; ++t) v += sp[q * r + t] * c[t * ldc + jj];
          y[(i + q) * ldy + jj] = v;
        }
    }
  }
  if (i < m)
    rescale_add_lowrank_portable(acc + i * lda, lda, m - i, n, rs + i, cs, p + i * r, r, c, ldc, s, y + i * ldy, ldy);
}


// AVX-512 (32 registers): the same two kernels with wider tiles, where the CPU has it.
#define FEDLORA_INT8_AVX512 __attribute__((target("avx512f")))

inline __mmask16 tail_mask(int64_t left) {
  return left >= 16 ? __mmask16{0xFFFF} : static_cast<__mmask16>((1u << left) - 1u);
}

// p[i..i+Q, t0..t0+R]: Q·R accumulators over k in chunks of 16 (the last masked), then one
// horizontal sum each. Each load of x feeds R FMAs and each load of c feeds Q.
template <int Q, int R>
FEDLORA_INT8_AVX512 void project_tile_avx512(const float* x, int64_t k, const float* c, float* p, int64_t r) {
  __m512 acc[Q][R];
#pragma GCC unroll 2
  for (int q = 0; q < Q; ++q)
#pragma GCC unroll 8
    for (int t = 0; t < R; ++t) acc[q][t] = _mm512_setzero_ps();
  for (int64_t j = 0; j < k; j += 16) {
    const __mmask16 mk = tail_mask(k - j);
    __m512 xv[Q];
#pragma GCC unroll 2
    for (int q = 0; q < Q; ++q) xv[q] = _mm512_maskz_loadu_ps(mk, x + q * k + j);
#pragma GCC unroll 8
    for (int t = 0; t < R; ++t) {
      const __m512 cv = _mm512_maskz_loadu_ps(mk, c + t * k + j);
#pragma GCC unroll 2
      for (int q = 0; q < Q; ++q) acc[q][t] = _mm512_fmadd_ps(xv[q], cv, acc[q][t]);
    }
  }
#pragma GCC unroll 2
  for (int q = 0; q < Q; ++q)
#pragma GCC unroll 8
    for (int t = 0; t < R; ++t) p[q * r + t] = _mm512_reduce_add_ps(acc[q][t]);
}

template <int R>
FEDLORA_INT8_AVX512 void project_block_avx512(const float* x, int64_t m, int64_t k, const float* c, int64_t t0,
                                              int64_t r, float* p) {
  int64_t i = 0;
  for (; i + 2 <= m; i += 2) project_tile_avx512<2, R>(x + i * k, k, c + t0 * k, p + i * r + t0, r);
  for (; i < m; ++i) project_tile_avx512<1, R>(x + i * k, k, c + t0 * k, p + i * r + t0, r);
}

void project_rows_avx512(const float* x, int64_t m, int64_t k, const float* c, int64_t r, float* p) {
  for_rank_blocks(r, [&](auto R, int64_t t0) { project_block_avx512<decltype(R)::value>(x, m, k, c, t0, r, p); });
}

// y[i..i+4, j..j+16·C]: rescaled products plus sp·c, 4·C accumulators (the last chunk masked).
template <int RC, int C>
FEDLORA_INT8_AVX512 inline void rescale_add_tile_avx512(const int32_t* acc, int64_t lda, const float* rs,
                                                        const float* cs, const float* sp, int64_t r_run,
                                                        const float* c, int64_t ldc, float* y, int64_t ldy,
                                                        __mmask16 mk) {
  const int64_t r = RC > 0 ? RC : r_run;
  __m512 v[4][C];
#pragma GCC unroll 4
  for (int q = 0; q < 4; ++q) {
    const __m512 row = _mm512_set1_ps(rs[q]);
#pragma GCC unroll 2
    for (int u = 0; u < C; ++u) {
      const __mmask16 mu = u == C - 1 ? mk : __mmask16{0xFFFF};
      v[q][u] = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_maskz_loadu_epi32(mu, acc + q * lda + 16 * u)), row);
    }
  }
  if (cs) {
#pragma GCC unroll 2
    for (int u = 0; u < C; ++u) {
      const __m512 col = _mm512_maskz_loadu_ps(u == C - 1 ? mk : __mmask16{0xFFFF}, cs + 16 * u);
#pragma GCC unroll 4
      for (int q = 0; q < 4; ++q) v[q][u] = _mm512_mul_ps(v[q][u], col);
    }
  }
#pragma GCC unroll 16
  for (int64_t t = 0; t < r; ++t) {
    __m512 cv[C];
#pragma GCC unroll 2
    for (int u = 0; u < C; ++u) cv[u] = _mm512_maskz_loadu_ps(u == C - 1 ? mk : __mmask16{0xFFFF}, c + t * ldc + 16 * u);
#pragma GCC unroll 4
    for (int q = 0; q < 4; ++q) {
      const __m512 b = _mm512_set1_ps(sp[q * r + t]);
#pragma GCC unroll 2
      for (int u = 0; u < C; ++u) v[q][u] = _mm512_fmadd_ps(b, cv[u], v[q][u]);
    }
  }
#pragma GCC unroll 4
  for (int q = 0; q < 4; ++q)
#pragma GCC unroll 2
    for (int u = 0; u < C; ++u) _mm512_mask_storeu_ps(y + q * ldy + 16 * u, u == C - 1 ? mk : __mmask16{0xFFFF}, v[q][u]);
}

template <int RC>
FEDLORA_INT8_AVX512 void rescale_add_rows4_avx512(const int32_t* acc, int64_t lda, int64_t n, const float* rs,
                                                  const float* cs, const float* sp, int64_t r, const float* c,
                                                  int64_t ldc, float* y, int64_t ldy) {
  int64_t j = 0;
  for (; j + 32 <= n; j += 32)
    rescale_add_tile_avx512<RC, 2>(acc + j, lda, rs, cs ? cs + j : nullptr, sp, r, c + j, ldc, y + j, ldy, 0xFFFF);
  for (; j < n; j += 16)
    rescale_add_tile_avx512<RC, 1>(acc + j, lda, rs, cs ? cs + j : nullptr, sp, r, c + j, ldc, y + j, ldy,
                                   tail_mask(n - j));
}

FEDLORA_INT8_AVX512 void rescale_add_lowrank_avx512(const int32_t* acc, int64_t lda, int64_t m, int64_t n,
                                                    const float* rs, const float* cs, const float* p, int64_t r,
                                                    const float* c, int64_t ldc, float s, float* y, int64_t ldy) {
  thread_local std::vector<float> sp_buf;  // s·p for the current four rows
  if (sp_buf.size() < static_cast<size_t>(4 * r)) sp_buf.resize(static_cast<size_t>(4 * r));
  float* sp = sp_buf.data();
  int64_t i = 0;
  for (; i + 4 <= m; i += 4) {
    for (int64_t e = 0; e < 4 * r; ++e) sp[e] = s * p[i * r + e];
    const int32_t* ai = acc + i * lda;
    float* yi = y + i * ldy;
    switch (r) {  // the usual LoRA ranks get an unrolled t loop
      case 4: rescale_add_rows4_avx512<4>(ai, lda, n, rs + i, cs, sp, r, c, ldc, yi, ldy); break;
      case 8: rescale_add_rows4_avx512<8>(ai, lda, n, rs + i, cs, sp, r, c, ldc, yi, ldy); break;
      case 16: rescale_add_rows4_avx512<16>(ai, lda, n, rs + i, cs, sp, r, c, ldc, yi, ldy); break;
      default: rescale_add_rows4_avx512<0>(ai, lda, n, rs + i, cs, sp, r, c, ldc, yi, ldy); break;
    }
  }
  if (i < m)
    rescale_add_lowrank_portable(acc + i * lda, lda, m - i, n, rs + i, cs, p + i * r, r, c, ldc, s, y + i * ldy, ldy);
}

Int8LoraKernels g_cap = Int8LoraKernels::avx512;  // set_int8_lora_kernels

bool have_avx512() {
  static const bool yes = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx2") &&
                          __builtin_cpu_supports("fma");
  return yes && g_cap == Int8LoraKernels::avx512;
}

bool have_avx2_fma() {
  static const bool yes = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return yes && g_cap != Int8LoraKernels::portable;
}
#endif

void project(const float* x, int64_t m, int64_t k, const float* c, int64_t r, float* p) {
#if defined(__x86_64__)
  if (have_avx512()) return project_rows_avx512(x, m, k, c, r, p);
  if (have_avx2_fma()) return project_rows_avx2(x, m, k, c, r, p);
#endif
  project_rows_portable(x, m, k, c, r, p);
}

// One block of columns: acc [m, n] (row stride lda) into y (ldy), c = Bᵀ's matching
// columns (ldc).
void rescale_add_lowrank(const int32_t* acc, int64_t lda, int64_t m, int64_t n, const float* rs, const float* cs,
                         const float* p, int64_t r, const float* c, int64_t ldc, float s, float* y, int64_t ldy) {
#if defined(__x86_64__)
  if (have_avx512()) return rescale_add_lowrank_avx512(acc, lda, m, n, rs, cs, p, r, c, ldc, s, y, ldy);
  if (have_avx2_fma()) return rescale_add_lowrank_avx2(acc, lda, m, n, rs, cs, p, r, c, ldc, s, y, ldy);
#endif
  rescale_add_lowrank_portable(acc, lda, m, n, rs, cs, p, r, c, ldc, s, y, ldy);
}

// bt [r, out] = bᵀ (b [out, r]).
float* transposed_b(const float* b, int64_t out, int64_t r, Scratch& sc) {
  float* bt = sized(sc.bt, r * out);
  for (int64_t o = 0; o < out; ++o)
    for (int64_t t = 0; t < r; ++t) bt[t * out + o] = b[o * r + t];
  return bt;
}

// Quantizes rows of src [m, k] (columns times col_mul, may be null) and projects them onto
// c [r, k], a block of rows at a time.
void quantize_and_project(const char* who, const float* src, int64_t m, int64_t k, const float* col_mul,
                          const float* c, int64_t r, int8_t* q, float* scales, float* p) {
  for (int64_t i0 = 0; i0 < m; i0 += kBlockRows) {
    const int64_t rows = std::min(kBlockRows, m - i0);
    try {
      quantize_rows_s8(src + i0 * k, rows, k, col_mul, q + i0 * k, scales + i0);
    } catch (const std::invalid_argument&) {
      throw std::invalid_argument(std::string(who) + ": a row in [" + std::to_string(i0) + ", " +
                                  std::to_string(i0 + rows) + ") holds a NaN or Inf");
    }
    project(src + i0 * k, rows, k, c, r, p + i0 * r);
  }
}

void check_rank(const char* who, int64_t r) {
  if (r < 0) throw std::invalid_argument(std::string(who) + ": negative LoRA rank " + std::to_string(r));
}

}  // namespace

void set_int8_lora_kernels(Int8LoraKernels widest) {
  set_row_quantize_kernels(widest == Int8LoraKernels::avx512 ? 2 : widest == Int8LoraKernels::avx2 ? 1 : 0);
#if defined(__x86_64__)
  g_cap = widest;
#else
  (void)widest;
#endif
}

const char* int8_lora_kernels() {
#if defined(__x86_64__)
  if (have_avx512()) return "avx512";
  if (have_avx2_fma()) return "avx2";
#endif
  return "portable";
}

void project_rows(const float* x, int64_t m, int64_t k, const float* c, int64_t r, float* p) {
  if (m < 0 || k < 0 || r < 0) throw std::invalid_argument("project_rows: negative dimension");
  project(x, m, k, c, r, p);
}

void int8_lora_forward(const float* x, int64_t m, const Int8Weight& w, const float* a, const float* b, int64_t r,
                       float s, float* y, float* xa) {
  check_rank("int8_lora_forward", r);
  const int64_t in = w.cols, out = w.rows;
  Scratch& sc = scratch();
  int8_t* qx = sized(sc.q, m * in);
  float* sx = sized(sc.s, m);
  quantize_and_project("int8_lora_forward", x, m, in, nullptr, a, r, qx, sx, xa);
  const float* bt = transposed_b(b, out, r, sc);
  const float* sw = w.scale.data();
  int8_forward_product_blocks(qx, m, w, [&](int64_t j0, int64_t nb, const int32_t* acc) {
    rescale_add_lowrank(acc, nb, m, nb, sx, sw + j0, xa, r, bt + j0, out, s, y + j0, out);
  });
}

void int8_lora_backward(const float* delta, int64_t m, const Int8Weight& w, const float* a, const float* b,
                        int64_t r, float s, float* dx, float* delta_b) {
  check_rank("int8_lora_backward", r);
  const int64_t in = w.cols, out = w.rows;
  Scratch& sc = scratch();
  int8_t* qd = sized(sc.q, m * out);
  float* sd = sized(sc.s, m);
  // δ's columns times the weight's row scales before quantization (int8_linear_backward);
  // δ·B from δ itself.
  quantize_and_project("int8_lora_backward", delta, m, out, w.scale.data(), transposed_b(b, out, r, sc), r, qd, sd,
                       delta_b);
  int8_backward_product_blocks(qd, m, w, [&](int64_t j0, int64_t nb, const int32_t* acc) {
    rescale_add_lowrank(acc, nb, m, nb, sd, nullptr, delta_b, r, a + j0, in, s, dx + j0, in);
  });
}

}  // namespace fedlora::lora
