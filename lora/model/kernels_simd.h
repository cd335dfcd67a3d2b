#pragma once
// Internal to the kernels (kernels_*.cpp): the run-time choice between the AVX2+FMA and
// the scalar paths, and the AVX2 helpers they share (horizontal reductions, e^x, tail
// masks). The default build has no -march flags, so every AVX2 function carries
// __attribute__((target)) (FEDLORA_AVX2) and runs only when simd_path() says so.
#include <immintrin.h>

#include <cstdint>

namespace fedlora::lora::kernels::detail {

/// True when the AVX2+FMA paths run: the CPU has them and set_simd(false) was not called.
bool simd_path();

/// True when, beyond simd_path(), the CPU has AVX-512F (the kernels that gain from its 32
/// registers use it).
bool avx512_path();

#define FEDLORA_AVX512 __attribute__((target("avx512f")))

#define FEDLORA_AVX2 __attribute__((target("avx2,fma")))

FEDLORA_AVX2 inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

FEDLORA_AVX2 inline float hmax(__m256 v) {
  __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_max_ps(s, _mm_movehl_ps(s, s));
  s = _mm_max_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// e^x, Cephes expf (range reduction by ln 2 in two parts, degree-6 polynomial), relative
// error ~1e-7 on the clamped range [-87.34, 88]; NaN in gives NaN out.
FEDLORA_AVX2 inline __m256 exp8(__m256 x) {
  const __m256 hi = _mm256_set1_ps(88.0f), lo = _mm256_set1_ps(-87.336544f);
  x = _mm256_min_ps(hi, x);  // operand order keeps NaN (min/max return the 2nd on NaN)
  x = _mm256_max_ps(lo, x);
  const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                   _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
  __m256 y = _mm256_set1_ps(1.9875691500e-4f);
  y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(1.3981999507e-3f));
  y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(8.3334519073e-3f));
  y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(4.1665795894e-2f));
  y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(1.6666665459e-1f));
  y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(5.0000001201e-1f));
  y = _mm256_fmadd_ps(y, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
  const __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  return _mm256_mul_ps(y, _mm256_castsi256_ps(e));
}

// Scalar e^x with the same polynomial, for row tails (so a row's values do not depend on
// where the 8-wide chunks end).
FEDLORA_AVX2 inline float exp1(float x) {
  alignas(32) float buf[8];
  _mm256_store_ps(buf, exp8(_mm256_set1_ps(x)));
  return buf[0];
}

// Lane mask with the first n (0..8) lanes set, for the tail of a row.
FEDLORA_AVX2 inline __m256i tail_mask(int64_t n) {
  alignas(32) static const int32_t table[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(table + 8 - n));
}

FEDLORA_AVX2 inline __m256 sigmoid8(__m256 g) {
  const __m256 one = _mm256_set1_ps(1.0f);
  return _mm256_div_ps(one, _mm256_add_ps(one, exp8(_mm256_sub_ps(_mm256_setzero_ps(), g))));
}

}  // namespace fedlora::lora::kernels::detail
