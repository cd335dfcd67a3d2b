#pragma once
// IEEE 754 binary16 ("half", ggml_fp16_t) <-> binary32 conversion, bit-identical to ggml's
// portable software path (ggml-impl.h `ggml_compute_fp32_to_fp16` /
// `ggml_compute_fp16_to_fp32`), which is what GGUF files store for F16 tensors and for the
// scale `d` of the ggml block_q8_0 / block_q4_0 formats (GGUF spec, docs/gguf.md).
//
// fp32 -> fp16 rounds to nearest, ties to even; magnitudes >= 65520 become ±Inf; results
// below 2^-14 become subnormal halves (down to 2^-24), smaller ones ±0; every NaN becomes
// the quiet NaN 0x7E00 with the input's sign (ggml's choice; F16C hardware would instead keep
// the payload, so the fast path below patches NaN lanes).
// fp16 -> fp32 is exact for every non-NaN half; a NaN half keeps its sign and payload and
// gets the quiet bit (what x86 produces both in ggml's software path and with F16C).
//
// The scalar functions use integer arithmetic only, so they do not depend on the FPU
// rounding mode, on FTZ/DAZ, or on floating-point contraction.
#include <bit>
#include <cstddef>
#include <cstdint>

namespace fedlora::lora {

/// fp32 -> fp16 bits (round to nearest even; see file comment for Inf/NaN/subnormals).
constexpr uint16_t fp32_to_fp16(float f) {
  const uint32_t w = std::bit_cast<uint32_t>(f);
  const uint32_t sign = (w >> 16) & 0x8000u;
  const uint32_t abs = w & 0x7FFFFFFFu;
  if (abs > 0x7F800000u) return static_cast<uint16_t>(sign | 0x7E00u);  // NaN
  if (abs >= 0x477FF000u) return static_cast<uint16_t>(sign | 0x7C00u);  // >= 65520: Inf
  if (abs >= 0x38800000u) {
    // Normal half (|f| >= 2^-14): rebias the exponent (127 -> 15) and round the 23-bit
    // mantissa to 10 bits. A carry out of the mantissa correctly bumps the exponent.
    // Branch-free round-half-even on the 13 dropped bits: adding 0xFFF + (kept lsb) carries
    // into the kept bits exactly when the rest is > half, or == half with an odd lsb.
    const uint32_t rebased = abs - 0x38000000u;  // exponent - 112, still 23-bit mantissa
    const uint32_t h = (rebased + 0x0FFFu + ((rebased >> 13) & 1u)) >> 13;
    return static_cast<uint16_t>(sign | h);
  }
  if (abs < 0x33000000u) return static_cast<uint16_t>(sign);  // < 2^-25: rounds to ±0
  // Subnormal half: value = m * 2^-24 with m = round(|f| * 2^24). |f| = M * 2^(e-150)
  // with M the 24-bit significand (implicit 1 included), so shift M right by 126 - e.
  const uint32_t e = abs >> 23;                       // 102 ..= 112 here
  const uint32_t mant = (abs & 0x7FFFFFu) | 0x800000u;
  const uint32_t shift = 126u - e;                    // 14 ..= 24
  // Same round-half-even carry trick; a carry may reach 0x400, the smallest normal.
  const uint32_t h = (mant + ((1u << (shift - 1u)) - 1u) + ((mant >> shift) & 1u)) >> shift;
  return static_cast<uint16_t>(sign | h);
}

/// fp16 bits -> fp32 (exact; NaN payload kept, quiet bit set).
constexpr float fp16_to_fp32(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1Fu;
  const uint32_t mant = h & 0x3FFu;
  if (exp == 0x1Fu) {
    return std::bit_cast<float>(sign | 0x7F800000u | (mant << 13) | (mant ? 0x400000u : 0u));
  }
  if (exp != 0) return std::bit_cast<float>(sign | ((exp + 112u) << 23) | (mant << 13));
  if (mant == 0) return std::bit_cast<float>(sign);
  // Subnormal half m * 2^-24: normalise so the leading 1 becomes the implicit bit.
  const int lead = std::bit_width(mant) - 1;  // 0 ..= 9
  const uint32_t frac = (mant << (23 - lead)) & 0x7FFFFFu;
  const uint32_t fexp = static_cast<uint32_t>(127 - 24 + lead);
  return std::bit_cast<float>(sign | (fexp << 23) | frac);
}

/// Row conversions: `n` elements, src and dst must not overlap. These use F16C (8 lanes)
/// when the running CPU has it and produce exactly what the scalar functions above give
/// for every input, NaNs included. No alignment requirement.
void fp32_to_fp16_row(const float* src, uint16_t* dst, size_t n);
void fp16_to_fp32_row(const uint16_t* src, float* dst, size_t n);

/// Scalar loops over the functions above: the reference the fast rows are tested against.
void fp32_to_fp16_row_ref(const float* src, uint16_t* dst, size_t n);
void fp16_to_fp32_row_ref(const uint16_t* src, float* dst, size_t n);

}  // namespace fedlora::lora
