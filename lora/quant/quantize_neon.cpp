// aarch64 NEON quantizers for Q8_0 and Q4_0, bit-identical to the references in q8_0.cpp
// and q4_0.cpp. Compiled only for aarch64 (Advanced SIMD is baseline there).
//
// Why the results match the scalar loops bit for bit:
//  - amax: max of |x| is exact and order-free for finite input (inputs are checked finite
//    by the callers), so the vector reduction equals the sequential fmax loop.
//  - d and id are computed by the same scalar expressions as the reference.
//  - Q8_0: the reference is roundf(x*id) (ties away from zero) then a C cast; FCVTAS
//    (vcvtaq_s32_f32) converts with round-to-nearest, ties away from zero, which is the
//    same for the in-range values here (|x*id| <= 127 + a few ulps).
//  - Q4_0: x*id and +8.5f must round separately. arm_neon.h implements vmulq_f32 and
//    vaddq_f32 as plain C operators, so GCC may fuse them into FMLA unless contraction is
//    off; lora/quant/CMakeLists.txt builds this library with -ffp-contract=off (as the
//    reference needs too). FCVTZS (vcvtq_s32_f32) truncates toward zero like the C cast.
//  - The first element of largest |x| (Q4_0 keeps its sign) is found from the equality mask.
//  - Scale underflow (1/d = Inf) falls back to the reference block, as the AVX2 path does.
//  - Scalar and Advanced SIMD arithmetic share FPCR on AArch64 (rounding mode, FZ).
#include <cmath>

#include "lora/quant/fp16.h"
#include "lora/quant/q4_0.h"
#include "lora/quant/q8_0.h"
#include "lora/quant/simd.h"

#if defined(__aarch64__)
#include <arm_neon.h>

namespace fedlora::lora::detail {
namespace {

// 16 bytes of 0x00/0xFF -> index of the first 0xFF byte, or 16 if none ("shrn" movemask:
// each byte becomes 4 bits of a 64-bit word).
inline int first_set_byte(uint8x16_t m) {
  const uint64_t bits = vget_lane_u64(vreinterpret_u64_u8(vshrn_n_u16(vreinterpretq_u16_u8(m), 4)), 0);
  return bits ? __builtin_ctzll(bits) / 4 : 16;
}

// Four 4-lane masks -> one 16-byte mask in element order.
inline uint8x16_t narrow_mask(uint32x4_t a, uint32x4_t b, uint32x4_t c, uint32x4_t d) {
  return vcombine_u8(vmovn_u16(vcombine_u16(vmovn_u32(a), vmovn_u32(b))),
                     vmovn_u16(vcombine_u16(vmovn_u32(c), vmovn_u32(d))));
}

}  // namespace

void quantize_q8_0_neon(const float* x, BlockQ8_0* y, size_t n_blocks) {
  for (size_t b = 0; b < n_blocks; ++b, x += kQK8_0) {
    float32x4_t v[8];
    for (int k = 0; k < 8; ++k) v[k] = vld1q_f32(x + 4 * k);
    float32x4_t m = vabsq_f32(v[0]);
    for (int k = 1; k < 8; ++k) m = vmaxq_f32(m, vabsq_f32(v[k]));
    const float amax = vmaxvq_f32(m);
    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    if (!std::isfinite(id)) {  // scale underflow: see ggml_x86_to_int8
      quantize_block_q8_0_ref(x, &y[b]);
      continue;
    }
    y[b].d = fp32_to_fp16(d);
    const float32x4_t vid = vdupq_n_f32(id);
    int32x4_t q[8];
    for (int k = 0; k < 8; ++k) q[k] = vcvtaq_s32_f32(vmulq_f32(v[k], vid));
    // Values are in [-127, 127]: the saturating narrows never saturate.
    const int8x16_t lo = vcombine_s8(vqmovn_s16(vcombine_s16(vqmovn_s32(q[0]), vqmovn_s32(q[1]))),
                                      vqmovn_s16(vcombine_s16(vqmovn_s32(q[2]), vqmovn_s32(q[3]))));
    const int8x16_t hi = vcombine_s8(vqmovn_s16(vcombine_s16(vqmovn_s32(q[4]), vqmovn_s32(q[5]))),
                                      vqmovn_s16(vcombine_s16(vqmovn_s32(q[6]), vqmovn_s32(q[7]))));
    vst1q_s8(y[b].qs, lo);
    vst1q_s8(y[b].qs + 16, hi);
  }
}

void quantize_q4_0_neon(const float* x, BlockQ4_0* y, size_t n_blocks) {
  for (size_t b = 0; b < n_blocks; ++b, x += kQK4_0) {
    float32x4_t v[8], a[8];
    for (int k = 0; k < 8; ++k) {
      v[k] = vld1q_f32(x + 4 * k);
      a[k] = vabsq_f32(v[k]);
    }
    float32x4_t m = a[0];
    for (int k = 1; k < 8; ++k) m = vmaxq_f32(m, a[k]);
    const float amax = vmaxvq_f32(m);
    // The reference keeps the first element with |x| == amax, with its sign; an all-zero
    // block keeps max = +0.0 (so d = -0.0), whatever the signs of its zeros.
    float max = 0.0f;
    if (amax != 0.0f) {
      const float32x4_t am = vdupq_n_f32(amax);
      uint32x4_t eq[8];
      for (int k = 0; k < 8; ++k) eq[k] = vceqq_f32(a[k], am);
      int first = first_set_byte(narrow_mask(eq[0], eq[1], eq[2], eq[3]));
      if (first == 16) first += first_set_byte(narrow_mask(eq[4], eq[5], eq[6], eq[7]));
      max = x[first];  // amax is one of the |x|, so first < 32
    }
    const float d = max / -8.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    if (!std::isfinite(id)) {  // scale underflow: see ggml_x86_to_int8
      quantize_block_q4_0_ref(x, &y[b]);
      continue;
    }
    y[b].d = fp32_to_fp16(d);
    const float32x4_t vid = vdupq_n_f32(id);
    const float32x4_t half8 = vdupq_n_f32(8.5f);
    const int32x4_t fifteen = vdupq_n_s32(15);
    uint16x4_t q[8];
    for (int k = 0; k < 8; ++k) {
      // Separate multiply and add (no FMA: -ffp-contract=off), truncation, clamp at 15.
      const float32x4_t s = vaddq_f32(vmulq_f32(v[k], vid), half8);
      q[k] = vqmovun_s32(vminq_s32(vcvtq_s32_f32(s), fifteen));  // s > 0: values 0..15
    }
    const uint8x16_t lo = vcombine_u8(vmovn_u16(vcombine_u16(q[0], q[1])), vmovn_u16(vcombine_u16(q[2], q[3])));
    const uint8x16_t hi = vcombine_u8(vmovn_u16(vcombine_u16(q[4], q[5])), vmovn_u16(vcombine_u16(q[6], q[7])));
    vst1q_u8(y[b].qs, vorrq_u8(lo, vshlq_n_u8(hi, 4)));  // byte j: element j | element j+16 << 4
  }
}

}  // namespace fedlora::lora::detail

#endif  // __aarch64__
