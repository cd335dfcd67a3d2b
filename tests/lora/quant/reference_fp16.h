#pragma once
// Independent fp16 references for the tests, written from the IEEE 754 definition of
// binary16 (1 sign bit, 5 exponent bits with bias 15, 10 fraction bits) rather than from
// the bit tricks in lora/quant/fp16.h: decode with ldexp, encode by bracketing the value
// between two adjacent halves and comparing with their exact midpoint.
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>

namespace fedlora::lora::testref {

/// Value of a non-NaN half as a double (exact: halves need at most 11 significant bits).
inline double half_value(uint16_t h) {
  const int sign = (h & 0x8000) ? -1 : 1;
  const int exp = (h >> 10) & 0x1F;
  const int frac = h & 0x3FF;
  if (exp == 31) return sign * std::numeric_limits<double>::infinity();
  if (exp == 0) return sign * std::ldexp(static_cast<double>(frac), -24);      // subnormal
  return sign * std::ldexp(static_cast<double>(1024 + frac), exp - 25);         // normal
}

/// Magnitude of the half with bit pattern `m` (0 ..= 0x7C00), treating 0x7C00 as 2^16:
/// the value the next half after 65504 would have if the exponent range went on. Rounding
/// to nearest sends everything at or beyond the midpoint 65520 to infinity (IEEE 754 §4.3.1).
inline double magnitude_for_rounding(uint16_t m) { return m == 0x7C00 ? 65536.0 : half_value(m); }

/// fp32 -> fp16 by the definition of round-to-nearest, ties-to-even; NaN -> sign | 0x7E00
/// (the value ggml's software converter produces).
inline uint16_t encode_half(float f) {
  const uint16_t sign = std::signbit(f) ? 0x8000 : 0;
  if (std::isnan(f)) return sign | 0x7E00;
  const double a = std::fabs(static_cast<double>(f));
  if (std::isinf(f)) return sign | 0x7C00;
  // Largest magnitude pattern lo in [0, 0x7C00] with value <= a (values increase with bits).
  uint16_t lo = 0, hi = 0x7C00;
  if (a >= 65536.0) return sign | 0x7C00;
  while (hi - lo > 1) {
    const uint16_t mid = static_cast<uint16_t>((lo + hi) / 2);
    if (magnitude_for_rounding(mid) <= a) lo = mid; else hi = mid;
  }
  const double vlo = magnitude_for_rounding(lo);
  if (vlo == a) return sign | lo;
  const uint16_t up = static_cast<uint16_t>(lo + 1);
  const double midpoint = (vlo + magnitude_for_rounding(up)) / 2;  // exact in double
  uint16_t r;
  if (a < midpoint) r = lo;
  else if (a > midpoint) r = up;
  else r = (lo & 1) ? up : lo;  // tie: the even pattern
  return sign | r;
}

/// fp16 -> fp32 expected bits: exact value for non-NaN; for NaN, sign and payload kept and
/// the quiet bit set (IEEE 754 §6.2.3 conversion of a NaN; what x86 hardware does).
inline uint32_t decode_half_bits(uint16_t h) {
  const int exp = (h >> 10) & 0x1F;
  const uint32_t frac = h & 0x3FF;
  if (exp == 31 && frac != 0) {
    return (static_cast<uint32_t>(h & 0x8000) << 16) | 0x7FC00000u | (frac << 13);
  }
  return std::bit_cast<uint32_t>(static_cast<float>(half_value(h)));
}

}  // namespace fedlora::lora::testref
