// aarch64 NEON kernels for fp16 rows and Q8_0/Q4_0 dequantization, bit-identical to the
// scalar references (fp16.h, q8_0.cpp, q4_0.cpp). Compiled only for aarch64, where
// Advanced SIMD is part of the base ISA (no runtime check, no extensions used).
//
// fp16 <-> fp32: the hardware FCVTL/FCVTN would follow FPCR (rounding mode, flush-to-zero)
// and keep NaN payloads, while the scalar converters are integer code that ignores FPCR and
// writes sign | 0x7E00 for every NaN. So the lanes run the same integer algorithm as
// fp16.h, four at a time, and give the same bits whatever FPCR holds.
//
// Dequantization: per element the same single fp32 operation as the reference (exact
// int -> float conversion, one multiply by the fp16-decoded scale). Scalar and Advanced
// SIMD arithmetic share FPCR on AArch64, so they round (and flush) identically.
#include "lora/quant/fp16.h"
#include "lora/quant/q4_0.h"
#include "lora/quant/q8_0.h"
#include "lora/quant/simd.h"

#if defined(__aarch64__)
#include <arm_neon.h>

namespace fedlora::lora::detail {
namespace {

// fp16_to_fp32() on four lanes (each lane holds one half in its low 16 bits).
inline uint32x4_t half_to_float_bits(uint32x4_t h) {
  const uint32x4_t sign = vshlq_n_u32(vandq_u32(h, vdupq_n_u32(0x8000u)), 16);
  const uint32x4_t exp = vandq_u32(vshrq_n_u32(h, 10), vdupq_n_u32(0x1Fu));
  const uint32x4_t mant = vandq_u32(h, vdupq_n_u32(0x3FFu));
  const uint32x4_t mant13 = vshlq_n_u32(mant, 13);
  const uint32x4_t mant_nz = vtstq_u32(mant, mant);  // all ones where mant != 0
  // Normal: rebias the exponent (15 -> 127).
  const uint32x4_t normal = vorrq_u32(vshlq_n_u32(vaddq_u32(exp, vdupq_n_u32(112u)), 23), mant13);
  // Inf / NaN: payload kept, quiet bit set for NaN.
  const uint32x4_t special = vorrq_u32(vorrq_u32(vdupq_n_u32(0x7F800000u), mant13),
                                       vandq_u32(mant_nz, vdupq_n_u32(0x400000u)));
  // Subnormal m * 2^-24: with c = clz32(m) (22..31), the leading 1 is bit 31 - c; shifting
  // m left by c - 8 puts it at bit 23 (the implicit bit, masked off) and the float exponent
  // field is 127 - 24 + (31 - c) = 134 - c. m = 0 gives garbage here, masked to +0 below.
  const uint32x4_t clz = vclzq_u32(mant);
  const int32x4_t lshift = vreinterpretq_s32_u32(vsubq_u32(clz, vdupq_n_u32(8u)));
  const uint32x4_t frac = vandq_u32(vshlq_u32(mant, lshift), vdupq_n_u32(0x7FFFFFu));
  const uint32x4_t sub = vandq_u32(
      vorrq_u32(vshlq_n_u32(vsubq_u32(vdupq_n_u32(134u), clz), 23), frac), mant_nz);
  uint32x4_t r = vbslq_u32(vceqq_u32(exp, vdupq_n_u32(0x1Fu)), special, normal);
  r = vbslq_u32(vceqzq_u32(exp), sub, r);
  return vorrq_u32(r, sign);
}

// fp32_to_fp16() on four lanes; the result is in the low 16 bits of each lane.
inline uint32x4_t float_to_half_bits(uint32x4_t w) {
  const uint32x4_t sign = vandq_u32(vshrq_n_u32(w, 16), vdupq_n_u32(0x8000u));
  const uint32x4_t abs = vandq_u32(w, vdupq_n_u32(0x7FFFFFFFu));
  const uint32x4_t one = vdupq_n_u32(1u);
  // Normal half: rebias and round the 13 dropped bits half-to-even (carry trick of fp16.h).
  const uint32x4_t rebased = vsubq_u32(abs, vdupq_n_u32(0x38000000u));
  const uint32x4_t normal = vshrq_n_u32(
      vaddq_u32(vaddq_u32(rebased, vdupq_n_u32(0x0FFFu)), vandq_u32(vshrq_n_u32(rebased, 13), one)), 13);
  // Subnormal half: shift the 24-bit significand right by 126 - e (14..24 in that range;
  // clamped there so the other lanes, discarded below, shift by sane amounts too).
  const int32x4_t e = vreinterpretq_s32_u32(vshrq_n_u32(abs, 23));
  const int32x4_t shift = vminq_s32(vmaxq_s32(vsubq_s32(vdupq_n_s32(126), e), vdupq_n_s32(14)), vdupq_n_s32(24));
  const int32x4_t rshift = vnegq_s32(shift);  // vshlq by a negative count shifts right
  const uint32x4_t mant = vorrq_u32(vandq_u32(abs, vdupq_n_u32(0x7FFFFFu)), vdupq_n_u32(0x800000u));
  const uint32x4_t half_minus_1 = vsubq_u32(vshlq_u32(one, vsubq_s32(shift, vdupq_n_s32(1))), one);
  const uint32x4_t odd = vandq_u32(vshlq_u32(mant, rshift), one);
  const uint32x4_t sub = vshlq_u32(vaddq_u32(vaddq_u32(mant, half_minus_1), odd), rshift);
  // Cases from the smallest magnitudes up; later ones override earlier ones.
  uint32x4_t r = vandq_u32(sub, vcgeq_u32(abs, vdupq_n_u32(0x33000000u)));       // < 2^-25: 0
  r = vbslq_u32(vcgeq_u32(abs, vdupq_n_u32(0x38800000u)), normal, r);
  r = vbslq_u32(vcgeq_u32(abs, vdupq_n_u32(0x477FF000u)), vdupq_n_u32(0x7C00u), r);  // Inf
  r = vbslq_u32(vcgtq_u32(abs, vdupq_n_u32(0x7F800000u)), vdupq_n_u32(0x7E00u), r);  // NaN
  return vorrq_u32(r, sign);
}

// y[0..16) = float(q[k]) * d.
inline void store_scaled16(float* y, int8x16_t q, float32x4_t d) {
  const int16x8_t lo = vmovl_s8(vget_low_s8(q));
  const int16x8_t hi = vmovl_high_s8(q);
  vst1q_f32(y + 0, vmulq_f32(vcvtq_f32_s32(vmovl_s16(vget_low_s16(lo))), d));
  vst1q_f32(y + 4, vmulq_f32(vcvtq_f32_s32(vmovl_high_s16(lo)), d));
  vst1q_f32(y + 8, vmulq_f32(vcvtq_f32_s32(vmovl_s16(vget_low_s16(hi))), d));
  vst1q_f32(y + 12, vmulq_f32(vcvtq_f32_s32(vmovl_high_s16(hi)), d));
}

}  // namespace

void fp16_to_fp32_neon(const uint16_t* src, float* dst, size_t n) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const uint16x8_t h = vld1q_u16(src + i);
    vst1q_f32(dst + i, vreinterpretq_f32_u32(half_to_float_bits(vmovl_u16(vget_low_u16(h)))));
    vst1q_f32(dst + i + 4, vreinterpretq_f32_u32(half_to_float_bits(vmovl_high_u16(h))));
  }
  for (; i < n; ++i) dst[i] = fp16_to_fp32(src[i]);
}

void fp32_to_fp16_neon(const float* src, uint16_t* dst, size_t n) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const uint32x4_t a = float_to_half_bits(vreinterpretq_u32_f32(vld1q_f32(src + i)));
    const uint32x4_t b = float_to_half_bits(vreinterpretq_u32_f32(vld1q_f32(src + i + 4)));
    vst1q_u16(dst + i, vcombine_u16(vmovn_u32(a), vmovn_u32(b)));
  }
  for (; i < n; ++i) dst[i] = fp32_to_fp16(src[i]);
}

void dequantize_q8_0_neon(const BlockQ8_0* x, float* y, size_t n_blocks) {
  for (size_t b = 0; b < n_blocks; ++b, y += kQK8_0) {
    const float32x4_t d = vdupq_n_f32(fp16_to_fp32(x[b].d));
    store_scaled16(y + 0, vld1q_s8(x[b].qs), d);
    store_scaled16(y + 16, vld1q_s8(x[b].qs + 16), d);
  }
}

void dequantize_q4_0_neon(const BlockQ4_0* x, float* y, size_t n_blocks) {
  const uint8x16_t nibble = vdupq_n_u8(0x0F);
  const int8x16_t eight = vdupq_n_s8(8);
  for (size_t b = 0; b < n_blocks; ++b, y += kQK4_0) {
    const float32x4_t d = vdupq_n_f32(fp16_to_fp32(x[b].d));
    const uint8x16_t raw = vld1q_u8(x[b].qs);
    // Elements 0..15 are the low nibbles, 16..31 the high nibbles; q - 8 fits in int8.
    const int8x16_t lo = vsubq_s8(vreinterpretq_s8_u8(vandq_u8(raw, nibble)), eight);
    const int8x16_t hi = vsubq_s8(vreinterpretq_s8_u8(vshrq_n_u8(raw, 4)), eight);
    store_scaled16(y + 0, lo, d);
    store_scaled16(y + 16, hi, d);
  }
}

}  // namespace fedlora::lora::detail

#endif  // __aarch64__
