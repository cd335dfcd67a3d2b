#include "lora/int8/row_quantize.h"

#if defined(__x86_64__)
#include <immintrin.h>
#elif defined(__aarch64__)
#include <arm_neon.h>
#endif

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

namespace fedlora::lora {
namespace {

// Round half to even for |v| < 2^22 without calling nearbyint: adding and subtracting
// 1.5·2^23 leaves the float rounded by the FPU's default mode (IEEE 754 round-to-nearest-
// even). Loops over it vectorise. Needs the product rounded before the add: the library is
// built with -ffp-contract=off (aarch64 GCC would fuse x·inv + 1.5·2^23 into one FMA and
// disagree with the vector kernels near ties), and -ffast-math would break it.
inline float round_half_even(float v) {
  constexpr float kMagic = 12582912.0f;
  return (v + kMagic) - kMagic;
}

// Scalar pieces shared by both row kernels (the AVX2 one runs them on its tail).
// Max |x·c| over [from, to) into amax; probe becomes NaN if any value is NaN or ±Inf.
inline void scan_range(const float* x, const float* c, int64_t from, int64_t to, float& amax, float& probe) {
  for (int64_t j = from; j < to; ++j) {
    const float v = c ? x[j] * c[j] : x[j];
    probe += v * 0.0f;
    amax = std::max(amax, std::fabs(v));
  }
}

inline void quantize_range(const float* x, const float* c, int64_t from, int64_t to, float inv, int8_t* q) {
  for (int64_t j = from; j < to; ++j) {
    const float v = (c ? x[j] * c[j] : x[j]) * inv;
    q[j] = static_cast<int8_t>(std::clamp(round_half_even(v), -127.0f, 127.0f));
  }
}

// The row's scale from its scan (NaN for a non-finite row); a zero row is written here.
inline float row_scale(float amax, float probe, int64_t cols, int8_t* q) {
  if (probe != 0.0f) return std::numeric_limits<float>::quiet_NaN();
  const float s = amax / 127.0f;
  if (s == 0.0f) std::fill(q, q + cols, int8_t{0});
  return s;
}

// One row: returns its scale, or NaN if a value is not finite.
float quantize_row_scalar(const float* x, int64_t cols, const float* c, int8_t* q) {
  float amax = 0.0f, probe = 0.0f;
  scan_range(x, c, 0, cols, amax, probe);
  const float s = row_scale(amax, probe, cols, q);
  if (s > 0.0f) quantize_range(x, c, 0, cols, 1.0f / s, q);
  return s;
}

#if defined(__x86_64__)
__attribute__((target("avx2,fma"))) float quantize_row_avx2(const float* x, int64_t cols, const float* c, int8_t* q) {
  const __m256 sign = _mm256_set1_ps(-0.0f), zero = _mm256_setzero_ps();
  __m256 vmax = zero, probe = zero;
  int64_t j = 0;
  for (; j + 8 <= cols; j += 8) {
    __m256 v = _mm256_loadu_ps(x + j);
    if (c) v = _mm256_mul_ps(v, _mm256_loadu_ps(c + j));
    probe = _mm256_add_ps(probe, _mm256_mul_ps(v, zero));
    vmax = _mm256_max_ps(vmax, _mm256_andnot_ps(sign, v));
  }
  alignas(32) float m8[8], p8[8];
  _mm256_store_ps(m8, vmax);
  _mm256_store_ps(p8, probe);
  float amax = 0.0f, p = 0.0f;
  for (int i = 0; i < 8; ++i) {
    amax = std::max(amax, m8[i]);
    p += p8[i];
  }
  scan_range(x, c, j, cols, amax, p);
  const float s = row_scale(amax, p, cols, q);
  if (!(s > 0.0f)) return s;
  const float inv = 1.0f / s;
  const __m256 vinv = _mm256_set1_ps(inv), lo = _mm256_set1_ps(-127.0f), hi = _mm256_set1_ps(127.0f);
  for (j = 0; j + 8 <= cols; j += 8) {
    __m256 v = _mm256_loadu_ps(x + j);
    if (c) v = _mm256_mul_ps(v, _mm256_loadu_ps(c + j));
    v = _mm256_mul_ps(v, vinv);
    v = _mm256_round_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);  // half to even
    v = _mm256_min_ps(_mm256_max_ps(v, lo), hi);
    const __m256i i32 = _mm256_cvtps_epi32(v);
    const __m128i i16 = _mm_packs_epi32(_mm256_castsi256_si128(i32), _mm256_extracti128_si256(i32, 1));
    const __m128i i8 = _mm_packs_epi16(i16, i16);
    _mm_storel_epi64(reinterpret_cast<__m128i*>(q + j), i8);
  }
  quantize_range(x, c, j, cols, inv, q);
  return s;
}

// AVX-512: the same scan and rounding 16 lanes wide, two accumulators for the scan's
// dependency chains, and one saturating narrow (vpmovsdb) instead of two packs.
__attribute__((target("avx512f"))) float quantize_row_avx512(const float* x, int64_t cols, const float* c, int8_t* q) {
  const __m512 zero = _mm512_setzero_ps();
  __m512 vmax0 = zero, vmax1 = zero, probe = zero;
  int64_t j = 0;
  for (; j + 32 <= cols; j += 32) {
    __m512 v0 = _mm512_loadu_ps(x + j), v1 = _mm512_loadu_ps(x + j + 16);
    if (c) {
      v0 = _mm512_mul_ps(v0, _mm512_loadu_ps(c + j));
      v1 = _mm512_mul_ps(v1, _mm512_loadu_ps(c + j + 16));
    }
    probe = _mm512_add_ps(probe, _mm512_add_ps(_mm512_mul_ps(v0, zero), _mm512_mul_ps(v1, zero)));
    vmax0 = _mm512_max_ps(vmax0, _mm512_abs_ps(v0));
    vmax1 = _mm512_max_ps(vmax1, _mm512_abs_ps(v1));
  }
  for (; j + 16 <= cols; j += 16) {
    __m512 v = _mm512_loadu_ps(x + j);
    if (c) v = _mm512_mul_ps(v, _mm512_loadu_ps(c + j));
    probe = _mm512_add_ps(probe, _mm512_mul_ps(v, zero));
    vmax0 = _mm512_max_ps(vmax0, _mm512_abs_ps(v));
  }
  float amax = _mm512_reduce_max_ps(_mm512_max_ps(vmax0, vmax1)), p = _mm512_reduce_add_ps(probe);
  scan_range(x, c, j, cols, amax, p);
  const float s = row_scale(amax, p, cols, q);
  if (!(s > 0.0f)) return s;
  const float inv = 1.0f / s;
  const __m512 vinv = _mm512_set1_ps(inv), lo = _mm512_set1_ps(-127.0f), hi = _mm512_set1_ps(127.0f);
  for (j = 0; j + 16 <= cols; j += 16) {
    __m512 v = _mm512_loadu_ps(x + j);
    if (c) v = _mm512_mul_ps(v, _mm512_loadu_ps(c + j));
    v = _mm512_mul_ps(v, vinv);
    v = _mm512_roundscale_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);  // half to even
    v = _mm512_min_ps(_mm512_max_ps(v, lo), hi);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(q + j), _mm512_cvtsepi32_epi8(_mm512_cvtps_epi32(v)));
  }
  quantize_range(x, c, j, cols, inv, q);
  return s;
}

bool have_avx2() {
  static const bool yes = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return yes;
}

bool have_avx512() {
  static const bool yes = __builtin_cpu_supports("avx512f");
  return yes;
}
#elif !defined(__aarch64__)
bool have_avx2() { return false; }
bool have_avx512() { return false; }
float quantize_row_avx2(const float* x, int64_t cols, const float* c, int8_t* q) {
  return quantize_row_scalar(x, cols, c, q);
}
float quantize_row_avx512(const float* x, int64_t cols, const float* c, int8_t* q) {
  return quantize_row_scalar(x, cols, c, q);
}
#endif

int g_widest = 2;  // set_row_quantize_kernels: 0 portable, 1 AVX2, 2 AVX-512

#if defined(__aarch64__)
// NEON (baseline on aarch64): the same scan and rounding as the scalar kernel, 4 lanes.
// vrndnq_f32 rounds half to even, as round_half_even does.
float quantize_row_neon(const float* x, int64_t cols, const float* c, int8_t* q) {
  const float32x4_t zero = vdupq_n_f32(0.0f);
  float32x4_t vmax = zero, probe = zero;
  int64_t j = 0;
  for (; j + 4 <= cols; j += 4) {
    float32x4_t v = vld1q_f32(x + j);
    if (c) v = vmulq_f32(v, vld1q_f32(c + j));
    probe = vaddq_f32(probe, vmulq_f32(v, zero));
    vmax = vmaxq_f32(vmax, vabsq_f32(v));
  }
  float amax = vmaxvq_f32(vmax), p = vaddvq_f32(probe);
  scan_range(x, c, j, cols, amax, p);
  const float s = row_scale(amax, p, cols, q);
  if (!(s > 0.0f)) return s;
  const float inv = 1.0f / s;
  const float32x4_t vinv = vdupq_n_f32(inv), lo = vdupq_n_f32(-127.0f), hi = vdupq_n_f32(127.0f);
  for (j = 0; j + 8 <= cols; j += 8) {
    float32x4_t v0 = vld1q_f32(x + j), v1 = vld1q_f32(x + j + 4);
    if (c) {
      v0 = vmulq_f32(v0, vld1q_f32(c + j));
      v1 = vmulq_f32(v1, vld1q_f32(c + j + 4));
    }
    v0 = vminq_f32(vmaxq_f32(vrndnq_f32(vmulq_f32(v0, vinv)), lo), hi);
    v1 = vminq_f32(vmaxq_f32(vrndnq_f32(vmulq_f32(v1, vinv)), lo), hi);
    const int16x8_t i16 = vcombine_s16(vmovn_s32(vcvtq_s32_f32(v0)), vmovn_s32(vcvtq_s32_f32(v1)));
    vst1_s8(q + j, vmovn_s16(i16));
  }
  quantize_range(x, c, j, cols, inv, q);
  return s;
}
#endif

}  // namespace

void quantize_rows_s8(const float* x, int64_t rows, int64_t cols, const float* col_mul, int8_t* q, float* scales) {
  if (rows < 0 || cols < 0) throw std::invalid_argument("quantize_rows_s8: negative shape");
#if defined(__aarch64__)
  auto row = quantize_row_neon;
#else
  auto row = g_widest >= 2 && have_avx512() ? quantize_row_avx512
             : g_widest >= 1 && have_avx2() ? quantize_row_avx2
                                            : quantize_row_scalar;
#endif
  for (int64_t i = 0; i < rows; ++i) {
    const float s = row(x + i * cols, cols, col_mul, q + i * cols);
    if (std::isnan(s)) throw std::invalid_argument("quantize_rows_s8: row " + std::to_string(i) + " has a NaN or Inf");
    scales[i] = s;
  }
}

void quantize_rows_s8_ref(const float* x, int64_t rows, int64_t cols, const float* col_mul, int8_t* q, float* scales) {
  if (rows < 0 || cols < 0) throw std::invalid_argument("quantize_rows_s8_ref: negative shape");
  for (int64_t i = 0; i < rows; ++i) {
    const float s = quantize_row_scalar(x + i * cols, cols, col_mul, q + i * cols);
    if (std::isnan(s)) throw std::invalid_argument("quantize_rows_s8_ref: row " + std::to_string(i) + " has a NaN or Inf");
    scales[i] = s;
  }
}

void set_row_quantize_kernels(int widest) { g_widest = widest; }

}  // namespace fedlora::lora
