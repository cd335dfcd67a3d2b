// CPU detection and the AVX2/F16C kernels for fp16 rows and Q8_0/Q4_0 dequantization
// (on aarch64 the entry points forward to the NEON kernels in dequantize_neon.cpp).
// Each kernel performs, per element, the same single fp32 operation as the reference
// (int -> float conversion is exact, then one multiply by the fp16-decoded scale), so the
// results are bit-identical; tests/lora/quant checks this over many random rows.
#include <cstring>

#include "lora/quant/fp16.h"
#include "lora/quant/q4_0.h"
#include "lora/quant/q8_0.h"
#include "lora/quant/simd.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#include <immintrin.h>
#define FEDLORA_QUANT_X86 1
#define FEDLORA_AVX2 __attribute__((target("avx2,f16c")))
#endif

namespace fedlora::lora {

bool quant_simd_available() {
#ifdef FEDLORA_QUANT_X86
  // Magic static: initialised once, thread-safe; __builtin_cpu_supports also checks that
  // the OS saves the YMM registers.
  static const bool ok = [] {
    __builtin_cpu_init();
    // F16C is CPUID.1:ECX bit 29; clang's __builtin_cpu_supports does not know "f16c".
    unsigned a = 0, b = 0, c = 0, d = 0;
    const bool f16c = __get_cpuid(1, &a, &b, &c, &d) && (c & (1u << 29)) != 0;
    return __builtin_cpu_supports("avx2") && f16c;
  }();
  return ok;
#elif defined(__aarch64__)
  return true;  // NEON is baseline on aarch64: no runtime check needed
#else
  return false;
#endif
}

std::string_view quant_kernel_path() {
#if defined(__aarch64__)
  return "neon";
#else
  return quant_simd_available() ? "avx2+f16c" : "scalar";
#endif
}

namespace detail {

#ifdef FEDLORA_QUANT_X86

FEDLORA_AVX2 void fp16_to_fp32_avx2(const uint16_t* src, float* dst, size_t n) {
  size_t i = 0;
  // vcvtph2ps is exact and quiets NaNs keeping sign and payload, like fp16_to_fp32().
  for (; i + 8 <= n; i += 8) {
    const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i));
    _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(h));
  }
  for (; i < n; ++i) dst[i] = fp16_to_fp32(src[i]);
}

FEDLORA_AVX2 void fp32_to_fp16_avx2(const float* src, uint16_t* dst, size_t n) {
  size_t i = 0;
  const __m128i quiet_nan = _mm_set1_epi16(0x7E00);
  const __m128i sign_bit = _mm_set1_epi16(static_cast<short>(0x8000));
  for (; i + 8 <= n; i += 8) {
    const __m256 x = _mm256_loadu_ps(src + i);
    // Immediate rounding (nearest even) ignores MXCSR; non-NaN lanes match the scalar path.
    __m128i h = _mm256_cvtps_ph(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    const __m256 nan = _mm256_cmp_ps(x, x, _CMP_UNORD_Q);
    if (!_mm256_testz_ps(nan, nan)) {
      // F16C keeps NaN payload bits; ggml writes sign | 0x7E00 instead.
      const __m256i bits = _mm256_castps_si256(x);
      const __m256i high = _mm256_srli_epi32(bits, 16);
      const __m128i high16 = _mm_packus_epi32(_mm256_castsi256_si128(high),
                                              _mm256_extracti128_si256(high, 1));
      const __m128i repl = _mm_or_si128(_mm_and_si128(high16, sign_bit), quiet_nan);
      const __m256i m32 = _mm256_castps_si256(nan);
      const __m128i m16 = _mm_packs_epi32(_mm256_castsi256_si128(m32),
                                          _mm256_extracti128_si256(m32, 1));
      h = _mm_blendv_epi8(h, repl, m16);
    }
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + i), h);
  }
  for (; i < n; ++i) dst[i] = fp32_to_fp16(src[i]);
}

namespace {
FEDLORA_AVX2 inline void store_scaled8(float* y, __m128i q8_low_bytes, __m256 d) {
  const __m256 v = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(q8_low_bytes));
  _mm256_storeu_ps(y, _mm256_mul_ps(v, d));
}
}  // namespace

FEDLORA_AVX2 void dequantize_q8_0_avx2(const BlockQ8_0* x, float* y, size_t n_blocks) {
  for (size_t b = 0; b < n_blocks; ++b, y += kQK8_0) {
    const __m256 d = _mm256_set1_ps(fp16_to_fp32(x[b].d));
    const __m128i q0 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(x[b].qs));
    const __m128i q1 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(x[b].qs + 16));
    store_scaled8(y + 0, q0, d);
    store_scaled8(y + 8, _mm_srli_si128(q0, 8), d);
    store_scaled8(y + 16, q1, d);
    store_scaled8(y + 24, _mm_srli_si128(q1, 8), d);
  }
}

FEDLORA_AVX2 void dequantize_q4_0_avx2(const BlockQ4_0* x, float* y, size_t n_blocks) {
  const __m128i nibble = _mm_set1_epi8(0x0F);
  const __m128i eight = _mm_set1_epi8(8);
  for (size_t b = 0; b < n_blocks; ++b, y += kQK4_0) {
    const __m256 d = _mm256_set1_ps(fp16_to_fp32(x[b].d));
    const __m128i raw = _mm_loadu_si128(reinterpret_cast<const __m128i*>(x[b].qs));
    // Elements 0..15 are the low nibbles, 16..31 the high nibbles; q - 8 fits in int8.
    const __m128i lo = _mm_sub_epi8(_mm_and_si128(raw, nibble), eight);
    const __m128i hi = _mm_sub_epi8(_mm_and_si128(_mm_srli_epi16(raw, 4), nibble), eight);
    store_scaled8(y + 0, lo, d);
    store_scaled8(y + 8, _mm_srli_si128(lo, 8), d);
    store_scaled8(y + 16, hi, d);
    store_scaled8(y + 24, _mm_srli_si128(hi, 8), d);
  }
}

#elif defined(__aarch64__)  // the fast entry points are the NEON kernels (dequantize_neon.cpp)

void fp16_to_fp32_avx2(const uint16_t* src, float* dst, size_t n) { fp16_to_fp32_neon(src, dst, n); }
void fp32_to_fp16_avx2(const float* src, uint16_t* dst, size_t n) { fp32_to_fp16_neon(src, dst, n); }
void dequantize_q8_0_avx2(const BlockQ8_0* x, float* y, size_t n_blocks) { dequantize_q8_0_neon(x, y, n_blocks); }
void dequantize_q4_0_avx2(const BlockQ4_0* x, float* y, size_t n_blocks) { dequantize_q4_0_neon(x, y, n_blocks); }

#else  // neither x86 nor aarch64: quant_simd_available() is false, so these are never reached.

void fp16_to_fp32_avx2(const uint16_t* src, float* dst, size_t n) { fp16_to_fp32_row_ref(src, dst, n); }
void fp32_to_fp16_avx2(const float* src, uint16_t* dst, size_t n) { fp32_to_fp16_row_ref(src, dst, n); }
void dequantize_q8_0_avx2(const BlockQ8_0* x, float* y, size_t n_blocks) {
  dequantize_row_q8_0_ref({x, n_blocks}, {y, n_blocks * kQK8_0});
}
void dequantize_q4_0_avx2(const BlockQ4_0* x, float* y, size_t n_blocks) {
  dequantize_row_q4_0_ref({x, n_blocks}, {y, n_blocks * kQK4_0});
}

#endif

}  // namespace detail
}  // namespace fedlora::lora
