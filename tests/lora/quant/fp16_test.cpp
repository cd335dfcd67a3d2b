// fp16 conversion: hand-known bit patterns, an independent definition-based reference on
// every rounding boundary, exhaustive decode, and the fast (F16C) rows against the scalar.
#include "lora/quant/fp16.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "lora/quant/simd.h"
#include "tests/lora/quant/reference_fp16.h"

namespace fedlora::lora {
namespace {

float from_bits(uint32_t b) { return std::bit_cast<float>(b); }
uint32_t to_bits(float f) { return std::bit_cast<uint32_t>(f); }

TEST(Fp16, KnownEncodings) {
  // 1.0 = 2^0: exponent 0 + bias 15 = 0b01111 -> 0x3C00; -2.0: exponent 16, sign -> 0xC000.
  EXPECT_EQ(fp32_to_fp16(1.0f), 0x3C00);
  EXPECT_EQ(fp32_to_fp16(-2.0f), 0xC000);
  EXPECT_EQ(fp32_to_fp16(0.0f), 0x0000);
  EXPECT_EQ(fp32_to_fp16(-0.0f), 0x8000);
  // Largest finite half: (2 - 2^-10) * 2^15 = 65504 = 0 11110 1111111111 = 0x7BFF.
  EXPECT_EQ(fp32_to_fp16(65504.0f), 0x7BFF);
  EXPECT_EQ(fp32_to_fp16(65505.0f), 0x7BFF);                 // below the midpoint 65520
  EXPECT_EQ(fp32_to_fp16(from_bits(0x477FEFFF)), 0x7BFF);    // largest float < 65520
  // 65520 is the midpoint between 65504 (odd fraction 0x3FF) and 2^16 (which would be
  // even): the tie goes to the even side, i.e. overflows to +Inf.
  EXPECT_EQ(fp32_to_fp16(65520.0f), 0x7C00);
  EXPECT_EQ(fp32_to_fp16(std::numeric_limits<float>::max()), 0x7C00);
  // Smallest subnormal half 2^-24 = 0x0001; 2^-25 is the tie between 0 and 2^-24 -> even 0;
  // the next float above 2^-25 rounds up.
  EXPECT_EQ(fp32_to_fp16(std::ldexp(1.0f, -24)), 0x0001);
  EXPECT_EQ(fp32_to_fp16(std::ldexp(1.0f, -25)), 0x0000);
  EXPECT_EQ(fp32_to_fp16(-std::ldexp(1.0f, -25)), 0x8000);
  EXPECT_EQ(fp32_to_fp16(from_bits(0x33000001)), 0x0001);
  // 3 * 2^-25 lies halfway between 1 and 2 (units of 2^-24) -> even 2; 5 * 2^-25 between 2
  // and 3 -> even 2.
  EXPECT_EQ(fp32_to_fp16(3.0f * std::ldexp(1.0f, -25)), 0x0002);
  EXPECT_EQ(fp32_to_fp16(5.0f * std::ldexp(1.0f, -25)), 0x0002);
  // Largest subnormal 1023 * 2^-24 = 0x03FF; smallest normal 2^-14 = exponent 1 = 0x0400.
  EXPECT_EQ(fp32_to_fp16(1023.0f * std::ldexp(1.0f, -24)), 0x03FF);
  EXPECT_EQ(fp32_to_fp16(std::ldexp(1.0f, -14)), 0x0400);
  // 1023.5 * 2^-24 ties between 0x03FF (odd) and 0x0400 (even): carries into the normals.
  EXPECT_EQ(fp32_to_fp16(1023.5f * std::ldexp(1.0f, -24)), 0x0400);
  EXPECT_EQ(fp32_to_fp16(1e-10f), 0x0000);
  // Ties in the normal range: 1 + 2^-11 is halfway between 0x3C00 and 0x3C01 -> 0x3C00;
  // 1 + 3*2^-11 halfway between 0x3C01 and 0x3C02 -> 0x3C02; just above a tie rounds up.
  EXPECT_EQ(fp32_to_fp16(1.0f + std::ldexp(1.0f, -11)), 0x3C00);
  EXPECT_EQ(fp32_to_fp16(1.0f + 3 * std::ldexp(1.0f, -11)), 0x3C02);
  EXPECT_EQ(fp32_to_fp16(1.0f + std::ldexp(1.0f, -11) + std::ldexp(1.0f, -23)), 0x3C01);
  // 0.1 = 1.6 * 2^-4: exponent 11 -> 0x2C00, fraction 0.6 * 1024 = 614.4 -> 614 = 0x266.
  EXPECT_EQ(fp32_to_fp16(0.1f), 0x2E66);
  // 1/3 = 1.333.. * 2^-2: exponent 13 -> 0x3400, fraction 341.33 -> 341 = 0x155.
  EXPECT_EQ(fp32_to_fp16(1.0f / 3.0f), 0x3555);
  // Infinities keep their sign; every NaN becomes the quiet NaN 0x7E00 with its sign.
  EXPECT_EQ(fp32_to_fp16(std::numeric_limits<float>::infinity()), 0x7C00);
  EXPECT_EQ(fp32_to_fp16(-std::numeric_limits<float>::infinity()), 0xFC00);
  EXPECT_EQ(fp32_to_fp16(from_bits(0x7FC00000)), 0x7E00);
  EXPECT_EQ(fp32_to_fp16(from_bits(0xFFC00000)), 0xFE00);
  EXPECT_EQ(fp32_to_fp16(from_bits(0x7F800001)), 0x7E00);  // signalling, tiny payload
  EXPECT_EQ(fp32_to_fp16(from_bits(0x7FFFFFFF)), 0x7E00);  // payload that F16C would keep
}

TEST(Fp16, KnownDecodings) {
  EXPECT_EQ(to_bits(fp16_to_fp32(0x3C00)), to_bits(1.0f));
  EXPECT_EQ(to_bits(fp16_to_fp32(0x8000)), 0x80000000u);            // -0.0
  EXPECT_EQ(fp16_to_fp32(0x7BFF), 65504.0f);
  EXPECT_EQ(fp16_to_fp32(0x0001), std::ldexp(1.0f, -24));           // 5.96e-8
  EXPECT_EQ(fp16_to_fp32(0x03FF), 1023.0f * std::ldexp(1.0f, -24));
  EXPECT_EQ(fp16_to_fp32(0x0400), std::ldexp(1.0f, -14));
  EXPECT_EQ(fp16_to_fp32(0x3555), 0.333251953125f);                 // 0.25 * (1 + 341/1024)
  EXPECT_EQ(fp16_to_fp32(0x3C01), 1.0009765625f);
  EXPECT_EQ(fp16_to_fp32(0xFC00), -std::numeric_limits<float>::infinity());
  // NaN halves: payload shifted up 13 bits, quiet bit (0x00400000) set, sign kept.
  EXPECT_EQ(to_bits(fp16_to_fp32(0x7C01)), 0x7FC02000u);
  EXPECT_EQ(to_bits(fp16_to_fp32(0x7E00)), 0x7FC00000u);
  EXPECT_EQ(to_bits(fp16_to_fp32(0xFE00)), 0xFFC00000u);
  static_assert(fp32_to_fp16(1.0f) == 0x3C00 && fp16_to_fp32(0xC000) == -2.0f);  // constexpr
}

TEST(Fp16, DecodeAllHalvesMatchesDefinition) {
  for (uint32_t h = 0; h <= 0xFFFF; ++h) {
    ASSERT_EQ(to_bits(fp16_to_fp32(static_cast<uint16_t>(h))),
              testref::decode_half_bits(static_cast<uint16_t>(h)))
        << "half 0x" << std::hex << h;
  }
}

// Every place where rounding can change its mind: each half's value, the midpoint to the
// next half, and the floats immediately on either side of both, with both signs.
std::vector<float> boundary_floats() {
  std::vector<float> out;
  const float inf = std::numeric_limits<float>::infinity();
  for (uint32_t m = 0; m < 0x7C00; ++m) {
    const double v = testref::magnitude_for_rounding(static_cast<uint16_t>(m));
    const double next = testref::magnitude_for_rounding(static_cast<uint16_t>(m + 1));
    for (double c : {v, (v + next) / 2}) {
      const float f = static_cast<float>(c);  // exact: at most 12 significant bits
      for (float g : {f, std::nextafter(f, inf), std::nextafter(f, -inf)}) {
        out.push_back(g);
        out.push_back(-g);
      }
    }
  }
  return out;
}

TEST(Fp16, EncodeMatchesDefinitionOnEveryRoundingBoundary) {
  for (float f : boundary_floats()) {
    ASSERT_EQ(fp32_to_fp16(f), testref::encode_half(f)) << "float bits 0x" << std::hex << to_bits(f);
  }
}

TEST(Fp16, EncodeMatchesDefinitionOnRandomBitPatterns) {
  std::mt19937 rng(1234);
  for (int i = 0; i < 300000; ++i) {
    const float f = from_bits(static_cast<uint32_t>(rng()));
    ASSERT_EQ(fp32_to_fp16(f), testref::encode_half(f)) << "float bits 0x" << std::hex << to_bits(f);
  }
}

TEST(Fp16, FastRowsEqualScalar) {
  SCOPED_TRACE(std::string("kernel path: ") + std::string(quant_kernel_path()));
  // Decode: all 65536 halves, at an odd offset and length so the scalar tail runs too.
  std::vector<uint16_t> halves(65536 + 3);
  for (size_t i = 0; i < halves.size(); ++i) halves[i] = static_cast<uint16_t>(i * 40503u);
  std::vector<float> fast(halves.size()), ref(halves.size());
  fp16_to_fp32_row(halves.data() + 1, fast.data(), halves.size() - 1);
  fp16_to_fp32_row_ref(halves.data() + 1, ref.data(), halves.size() - 1);
  ASSERT_EQ(std::memcmp(fast.data(), ref.data(), (halves.size() - 1) * sizeof(float)), 0);

  // Encode: boundary floats, random bit patterns (NaNs with payloads included), in
  // batches of varying length.
  std::vector<float> src = boundary_floats();
  std::mt19937 rng(99);
  for (int i = 0; i < 200000; ++i) src.push_back(from_bits(static_cast<uint32_t>(rng())));
  for (uint32_t payload : {0x7F800001u, 0x7FBFFFFFu, 0xFFC00001u, 0x7FFFE000u}) src.push_back(from_bits(payload));
  std::vector<uint16_t> hf(src.size()), hr(src.size());
  size_t pos = 0;
  for (size_t len = 1; pos < src.size(); len = len % 37 + 1) {
    const size_t n = std::min(len * 5, src.size() - pos);
    fp32_to_fp16_row(src.data() + pos, hf.data() + pos, n);
    pos += n;
  }
  fp32_to_fp16_row_ref(src.data(), hr.data(), src.size());
  for (size_t i = 0; i < src.size(); ++i) {
    ASSERT_EQ(hf[i], hr[i]) << "float bits 0x" << std::hex << to_bits(src[i]);
  }
}

}  // namespace
}  // namespace fedlora::lora
