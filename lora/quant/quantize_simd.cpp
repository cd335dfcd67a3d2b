// AVX2 quantizers for Q8_0 and Q4_0, bit-identical to the references in q8_0.cpp and
// q4_0.cpp. Unlike ggml's own AVX quantize_row_q8_0 (which rounds ties to even), this
// reproduces the reference roundf (ties away from zero) so files come out the same.
// On aarch64 the entry points forward to the NEON kernels in quantize_neon.cpp.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "lora/quant/fp16.h"
#include "lora/quant/q4_0.h"
#include "lora/quant/q8_0.h"
#include "lora/quant/simd.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define FEDLORA_QUANT_X86 1
#define FEDLORA_AVX2 __attribute__((target("avx2,f16c")))
#endif

namespace fedlora::lora::detail {

size_t first_non_finite(const float* x, size_t n) {
  constexpr size_t kChunk = 1024;
  for (size_t base = 0; base < n; base += kChunk) {
    const size_t end = std::min(n, base + kChunk);
    uint32_t bad = 0;  // branch-free over the chunk so the compiler vectorises it
    for (size_t i = base; i < end; ++i) {
      uint32_t bits;
      std::memcpy(&bits, x + i, sizeof bits);
      bad |= static_cast<uint32_t>((bits & 0x7F800000u) == 0x7F800000u);
    }
    if (bad) {
      for (size_t i = base; i < end; ++i) {
        if (!std::isfinite(x[i])) return i;
      }
    }
  }
  return n;
}

#ifdef FEDLORA_QUANT_X86
namespace {

FEDLORA_AVX2 inline float hmax(__m256 v) {
  __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  m = _mm_max_ps(m, _mm_movehl_ps(m, m));
  m = _mm_max_ss(m, _mm_movehdup_ps(m));
  return _mm_cvtss_f32(m);
}

// roundf(): round half away from zero. x - trunc(x) is exact, so comparing it with 0.5
// decides the tie the same way the C library does.
FEDLORA_AVX2 inline __m256 round_half_away(__m256 x) {
  const __m256 sign = _mm256_set1_ps(-0.0f);
  const __m256 t = _mm256_round_ps(x, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
  const __m256 frac = _mm256_andnot_ps(sign, _mm256_sub_ps(x, t));
  const __m256 up = _mm256_cmp_ps(frac, _mm256_set1_ps(0.5f), _CMP_GE_OQ);
  const __m256 one = _mm256_or_ps(_mm256_and_ps(x, sign), _mm256_set1_ps(1.0f));
  return _mm256_add_ps(t, _mm256_and_ps(up, one));
}

// Four vectors of 8 int32 (each in int8 range) -> 32 bytes in element order.
FEDLORA_AVX2 inline __m256i pack_to_bytes(__m256i a, __m256i b, __m256i c, __m256i e) {
  const __m256i ab = _mm256_packs_epi32(a, b);
  const __m256i ce = _mm256_packs_epi32(c, e);
  const __m256i bytes = _mm256_packs_epi16(ab, ce);
  // packs work per 128-bit lane; put the 4-byte groups back in order.
  return _mm256_permutevar8x32_epi32(bytes, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

}  // namespace

FEDLORA_AVX2 void quantize_q8_0_avx2(const float* x, BlockQ8_0* y, size_t n_blocks) {
  const __m256 sign = _mm256_set1_ps(-0.0f);
  for (size_t b = 0; b < n_blocks; ++b, x += kQK8_0) {
    __m256 v[4];
    for (int k = 0; k < 4; ++k) v[k] = _mm256_loadu_ps(x + 8 * k);
    __m256 m = _mm256_andnot_ps(sign, v[0]);
    for (int k = 1; k < 4; ++k) m = _mm256_max_ps(m, _mm256_andnot_ps(sign, v[k]));
    const float amax = hmax(m);  // max is exact and order-free for finite input
    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    if (!std::isfinite(id)) {  // scale underflow: see ggml_x86_to_int8
      quantize_block_q8_0_ref(x, &y[b]);
      continue;
    }
    y[b].d = fp32_to_fp16(d);
    const __m256 vid = _mm256_set1_ps(id);
    __m256i q[4];
    for (int k = 0; k < 4; ++k) {
      q[k] = _mm256_cvtps_epi32(round_half_away(_mm256_mul_ps(v[k], vid)));  // integral: exact
    }
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(y[b].qs), pack_to_bytes(q[0], q[1], q[2], q[3]));
  }
}

FEDLORA_AVX2 void quantize_q4_0_avx2(const float* x, BlockQ4_0* y, size_t n_blocks) {
  const __m256 sign = _mm256_set1_ps(-0.0f);
  for (size_t b = 0; b < n_blocks; ++b, x += kQK4_0) {
    __m256 v[4], a[4];
    for (int k = 0; k < 4; ++k) {
      v[k] = _mm256_loadu_ps(x + 8 * k);
      a[k] = _mm256_andnot_ps(sign, v[k]);
    }
    const float amax = hmax(_mm256_max_ps(_mm256_max_ps(a[0], a[1]), _mm256_max_ps(a[2], a[3])));
    // The reference keeps the first element with |x| == amax, with its sign; an all-zero
    // block keeps max = +0.0 (so d = -0.0), whatever the signs of its zeros.
    float max = 0.0f;
    if (amax != 0.0f) {
      const __m256 am = _mm256_set1_ps(amax);
      uint32_t hits = 0;
      for (int k = 0; k < 4; ++k) {
        const int mask = _mm256_movemask_ps(_mm256_cmp_ps(a[k], am, _CMP_EQ_OQ));
        hits |= static_cast<uint32_t>(mask) << (8 * k);
      }
      max = x[__builtin_ctz(hits)];
    }
    const float d = max / -8.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    if (!std::isfinite(id)) {  // scale underflow: see ggml_x86_to_int8
      quantize_block_q4_0_ref(x, &y[b]);
      continue;
    }
    y[b].d = fp32_to_fp16(d);
    const __m256 vid = _mm256_set1_ps(id);
    const __m256 half8 = _mm256_set1_ps(8.5f);
    const __m256i fifteen = _mm256_set1_epi32(15);
    __m256i q[4];
    for (int k = 0; k < 4; ++k) {
      // Separate multiply and add (no FMA), truncation, clamp at 15: as the reference.
      const __m256 s = _mm256_add_ps(_mm256_mul_ps(v[k], vid), half8);
      q[k] = _mm256_min_epi32(_mm256_cvttps_epi32(s), fifteen);
    }
    const __m256i bytes = pack_to_bytes(q[0], q[1], q[2], q[3]);  // 32 values in 0..15
    const __m128i lo = _mm256_castsi256_si128(bytes);             // elements 0..15
    const __m128i hi = _mm256_extracti128_si256(bytes, 1);        // elements 16..31
    _mm_storeu_si128(reinterpret_cast<__m128i*>(y[b].qs), _mm_or_si128(lo, _mm_slli_epi16(hi, 4)));
  }
}

#elif defined(__aarch64__)  // the fast entry points are the NEON kernels (quantize_neon.cpp)

void quantize_q8_0_avx2(const float* x, BlockQ8_0* y, size_t n_blocks) { quantize_q8_0_neon(x, y, n_blocks); }
void quantize_q4_0_avx2(const float* x, BlockQ4_0* y, size_t n_blocks) { quantize_q4_0_neon(x, y, n_blocks); }

#else  // neither x86 nor aarch64: quant_simd_available() is false, so these are never reached.

void quantize_q8_0_avx2(const float* x, BlockQ8_0* y, size_t n_blocks) {
  for (size_t b = 0; b < n_blocks; ++b) quantize_block_q8_0_ref(x + b * kQK8_0, &y[b]);
}
void quantize_q4_0_avx2(const float* x, BlockQ4_0* y, size_t n_blocks) {
  for (size_t b = 0; b < n_blocks; ++b) quantize_block_q4_0_ref(x + b * kQK4_0, &y[b]);
}

#endif

}  // namespace fedlora::lora::detail
