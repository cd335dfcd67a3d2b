// Q4_0 (ggml block_q4_0): hand-computed blocks, the round-trip error bound, and the fast
// kernels against the reference bit for bit.
#include "lora/quant/q4_0.h"

#include <gtest/gtest.h>

#include <array>
#include <bit>
#include <cmath>
#include <cstring>
#include <vector>

#include "lora/quant/simd.h"
#include "tests/lora/quant/random_blocks.h"
#include "tests/lora/quant/reference_fp16.h"

namespace fedlora::lora {
namespace {

// Hand-computed cases run through both the reference and the fast quantizer.
BlockQ4_0 quantize_one(const std::array<float, 32>& x) {
  BlockQ4_0 ref, fast;
  quantize_row_q4_0_ref(x, std::span<BlockQ4_0>(&ref, 1));
  quantize_row_q4_0(x, std::span<BlockQ4_0>(&fast, 1));
  EXPECT_EQ(std::memcmp(&ref, &fast, sizeof ref), 0) << "fast quantizer differs from the reference";
  return ref;
}

void expect_block(const BlockQ4_0& b, uint16_t d, const std::array<uint8_t, 16>& qs) {
  EXPECT_EQ(b.d, d) << std::hex << "d bits 0x" << b.d << ", expected 0x" << d;
  for (int j = 0; j < 16; ++j) {
    EXPECT_EQ(b.qs[j], qs[j]) << std::hex << "byte " << std::dec << j << ": 0x" << std::hex << int(b.qs[j])
                              << ", expected 0x" << int(qs[j]);
  }
}

std::array<float, 32> padded(std::initializer_list<float> head) {
  std::array<float, 32> x{};
  std::copy(head.begin(), head.end(), x.begin());
  return x;
}

TEST(Q4_0, NegativeExtremeGivesPositiveScale) {
  // The first element of largest |x| is -8, so d = -8 / -8 = +1 (0x3C00) and id = 1; each
  // nibble is min(15, trunc(x + 8.5)):
  //   -8 -> 0.5 -> 0 | 8 -> 16.5 -> 16 -> clamped 15 (decodes to 7: error 1 = d)
  //   0.5 -> 9 (a tie rounds up) | -0.5 -> 8 (also up) | 1.5 -> 10 | -1.5 -> 7
  //   0.49999997 = 0.5 - 2^-25: 8.5 + that = 9 - 2^-25, which fp32 rounds to 9.0 (its ulp
  //     is 2^-20 in [8, 16)) -> 9, although the value is below the tie
  //   -2.5 -> 6 | 7.4 -> 15.9 -> 15 | -7.6 -> 0.9 -> 0 | 3.2 -> 11.7 -> 11 | -3.7 -> 4.8 -> 4
  //   0, -0 -> 8 | 6.5 -> 15 | -6.5 -> 2
  // Elements 16..31 are -8..7, i.e. nibbles 0..15, in the high halves of bytes 0..15.
  std::array<float, 32> x = {-8.0f, 8.0f,  0.5f, -0.5f, 1.5f, -1.5f, 0.49999997f, -2.5f,
                             7.4f,  -7.6f, 3.2f, -3.7f, 0.0f, -0.0f, 6.5f,        -6.5f};
  for (int k = 0; k < 16; ++k) x[16 + k] = static_cast<float>(k - 8);
  // byte j = low nibble (element j) | high nibble (element j + 16 = j) << 4
  expect_block(quantize_one(x), 0x3C00,
               {0x00, 0x1F, 0x29, 0x38, 0x4A, 0x57, 0x69, 0x76, 0x8F, 0x90, 0xAB, 0xB4, 0xC8, 0xD8, 0xEF, 0xF2});
  std::array<float, 32> y;
  const auto b = quantize_one(x);
  dequantize_row_q4_0_ref(std::span<const BlockQ4_0>(&b, 1), y);
  EXPECT_EQ(y[0], -8.0f);
  EXPECT_EQ(y[1], 7.0f);   // +8 cannot be represented: the clamp costs one step
  EXPECT_EQ(y[6], 1.0f);   // the fp32 add quirk above
  EXPECT_EQ(y[16], -8.0f);
  EXPECT_EQ(y[31], 7.0f);
}

TEST(Q4_0, PositiveExtremeGivesNegativeScale) {
  // First largest |x| is +8 -> d = 8 / -8 = -1 (0xBC00), id = -1; nibble = trunc(8.5 - x):
  //   8 -> 0.5 -> 0 (decodes to -8 * -1 = 8) | -8 (same |x|, later) -> 16.5 -> 15 (-> -7)
  //   0.5 -> 8 (-> -0.0) | -0.5 -> 9 (-> -1) | 2.5 -> 6 (-> 2) | -2.5 -> 11 (-> -3)
  //   zeros -> 8. All high nibbles are 8.
  const auto b = quantize_one(padded({8.0f, -8.0f, 0.5f, -0.5f, 2.5f, -2.5f}));
  expect_block(b, 0xBC00,
               {0x80, 0x8F, 0x88, 0x89, 0x86, 0x8B, 0x88, 0x88, 0x88, 0x88, 0x88, 0x88, 0x88, 0x88, 0x88, 0x88});
  std::array<float, 32> y;
  dequantize_row_q4_0_ref(std::span<const BlockQ4_0>(&b, 1), y);
  EXPECT_EQ(y[0], 8.0f);
  EXPECT_EQ(y[1], -7.0f);
  EXPECT_EQ(std::bit_cast<uint32_t>(y[2]), 0x80000000u);  // 0 * -1 = -0.0
  EXPECT_EQ(y[3], -1.0f);
  EXPECT_EQ(y[4], 2.0f);
  EXPECT_EQ(y[5], -3.0f);
}

TEST(Q4_0, ScaleNeedsFp16Rounding) {
  // max = 0.1f: d = fl(0.1/-8) = -0.0125000002; fp16: 0.0125 = 1.6 * 2^-7, exponent 8 ->
  // 0x2000, fraction 0.6 * 1024 = 614.4 -> 614 = 0x266, sign -> 0xA266 (= -0.01249695).
  // id = fl(1/d) = -80 exactly (the error of d is far below half an ulp of 80), and
  //   0.1 -> -8 + 8.5 -> 0 | 0.05 -> -4 -> 4.5 -> 4 | -0.05 -> 12.5 -> 12
  //   0.03 -> -2.4 -> 6.1 -> 6 | -0.1 -> 16.5 -> 15 | 0.0125 -> 7.5 -> 7
  //   0.00625 -> 8 | -0.00625 -> 9 | zeros -> 8
  const auto b = quantize_one(padded({0.1f, 0.05f, -0.05f, 0.03f, -0.1f, 0.0125f, 0.00625f, -0.00625f}));
  expect_block(b, 0xA266,
               {0x80, 0x84, 0x8C, 0x86, 0x8F, 0x87, 0x88, 0x89, 0x88, 0x88, 0x88, 0x88, 0x88, 0x88, 0x88, 0x88});
  std::array<float, 32> y;
  dequantize_row_q4_0_ref(std::span<const BlockQ4_0>(&b, 1), y);
  EXPECT_EQ(y[0], 8 * 0.0124969482421875f);  // (0 - 8) * -0.0124969482421875
  EXPECT_EQ(y[1], 4 * 0.0124969482421875f);
}

TEST(Q4_0, MultiplyAndAddRoundSeparately) {
  // max = -14: d = 1.75 (fp16 1.11b * 2^0 -> 0x3C00 + 0.75 * 1024 = 0x3F00), id = fl(1/1.75)
  // = 0.571428597. For x = 0.87499911 (bits 0x3F5FFFF1) the exact x*id is
  // 0.5 - 2^-21 - 1.17e-8; fp32 (ulp 2^-25 there) rounds it to 0.5 - 2^-21 exactly. Then
  // + 8.5 = 9 - 2^-21 lies exactly halfway between 9 - 2^-20 and 9 (ulp 2^-20 in [8, 16)),
  // and the tie goes to the even significand, 9.0: nibble 9. A fused multiply-add would
  // round 9 - 2^-21 - 1.17e-8 once, to 9 - 2^-20, and give nibble 8. The max itself:
  // -14 * id = -8.0000004, + 8.5 -> 0.4999996 -> 0.
  const auto b = quantize_one(padded({-14.0f, std::bit_cast<float>(0x3F5FFFF1u)}));
  expect_block(b, 0x3F00,
               {0x80, 0x89, 0x88, 0x88, 0x88, 0x88, 0x88, 0x88, 0x88, 0x88, 0x88, 0x88, 0x88, 0x88, 0x88, 0x88});
}

TEST(Q4_0, AllZerosBlockHasNegativeZeroScale) {
  // max stays +0.0, so d = 0.0f / -8 = -0.0 -> fp16 0x8000; id = 0, every element gives
  // trunc(0 + 8.5) = 8, so every byte is 0x88. Signed zeros in the input change nothing
  // (|-0| is not > 0, so max is never replaced).
  expect_block(quantize_one({}), 0x8000, {0x88, 0x88, 0x88, 0x88, 0x88, 0x88, 0x88, 0x88, 0x88, 0x88, 0x88,
                                          0x88, 0x88, 0x88, 0x88, 0x88});
  std::array<float, 32> negz;
  negz.fill(-0.0f);
  expect_block(quantize_one(negz), 0x8000, {0x88, 0x88, 0x88, 0x88, 0x88, 0x88, 0x88, 0x88, 0x88, 0x88, 0x88,
                                            0x88, 0x88, 0x88, 0x88, 0x88});
}

TEST(Q4_0, ScaleUnderflow) {
  // max = 1e-38: d = -1.25e-39 -> fp16 0x8000, and 1/d overflows to -Inf, so x*id + 8.5
  // is ±Inf or NaN. ggml's cast to int8_t is undefined there; its x86-64 build yields 0
  // (low byte of cvttss2si's 0x80000000), min(15, 0) = 0: all nibbles 0, which we pin.
  expect_block(quantize_one(padded({1e-38f, 5e-39f})), 0x8000, {});
}

TEST(Q4_0, RejectsBadSizesAndNonFinite) {
  std::vector<float> x(33, 1.0f);
  std::vector<BlockQ4_0> y(1);
  EXPECT_THROW(quantize_row_q4_0_ref(x, y), QuantError);
  EXPECT_THROW(quantize_row_q4_0(x, y), QuantError);
  std::vector<float> out(64);
  EXPECT_THROW(dequantize_row_q4_0_ref(y, out), QuantError);
  EXPECT_THROW(dequantize_row_q4_0(y, out), QuantError);
  std::vector<float> bad(32, 1.0f);
  bad[31] = -INFINITY;
  EXPECT_THROW(quantize_row_q4_0(bad, y), QuantError);
  EXPECT_THROW(quantize_row_q4_0_ref(bad, y), QuantError);
}

// Error bound, derived from the scheme. |d| = amax/8 (fp32), id = fl(1/d), t = fl(x*id) lies
// in [-8, 8] up to rounding (|t - x/d| <= 8 * 2^-23), and q = min(7, floor(fl(t + 8.5)) - 8),
// where fl(t + 8.5) moves t by at most 2^-21 (half an ulp below 16). So:
//   if t < 7.5: |q - t| <= 1/2 + 2^-21;  if t >= 7.5 (x within |d|/2 of -m, the sign the
//   format cannot reach): q = 7 and |q - t| <= 1 + 8 * 2^-23.
// With x̂ = fl(q * d16), |q| <= 8:
//   |x - x̂| <= c * |d| + 8 * 2^-23 * |d| + 8 * |d - d16| + |x̂| * 2^-24,  c = 1/2 + 2^-21 or 1.
TEST(Q4_0, RoundTripErrorBound) {
  const auto x = testref::random_blocks(4000, testref::moderate_kinds(), 17);
  std::vector<BlockQ4_0> blocks(x.size() / 32);
  quantize_row_q4_0(x, blocks);
  std::vector<float> y(x.size());
  dequantize_row_q4_0(blocks, y);
  int clamped = 0;
  for (size_t b = 0; b < blocks.size(); ++b) {
    float amax = 0, m = 0;
    for (int j = 0; j < 32; ++j) {
      if (std::fabs(x[b * 32 + j]) > amax) {
        amax = std::fabs(x[b * 32 + j]);
        m = x[b * 32 + j];
      }
    }
    const double d = m / -8.0f;
    const double d16 = testref::half_value(blocks[b].d);
    for (int j = 0; j < 32; ++j) {
      const size_t i = b * 32 + j;
      const double t = d != 0 ? x[i] / d : 0;  // exact ratio; near the 7.5 edge allow either case
      const bool may_clamp = t >= 7.5 - 1e-5;
      clamped += may_clamp;
      const double c = may_clamp ? 1.0 : 0.5 + 0x1p-21;
      const double bound = (c + 8 * 0x1p-23) * std::fabs(d) + 8 * std::fabs(d - d16) + std::fabs(y[i]) * 0x1p-24;
      ASSERT_LE(std::fabs(static_cast<double>(x[i]) - y[i]), bound)
          << "block " << b << " element " << j << " t=" << t;
    }
  }
  EXPECT_GT(clamped, 0) << "the data never reached the clamped end; the bound was not exercised";
}

TEST(Q4_0, FastEqualsReferenceBitForBit) {
  SCOPED_TRACE(std::string("kernel path: ") + std::string(quant_kernel_path()));
  const auto x = testref::random_blocks(20000, testref::all_kinds(), 23);
  const size_t nb = x.size() / 32;
  std::vector<BlockQ4_0> ref(nb), fast(nb);
  quantize_row_q4_0_ref(x, ref);
  quantize_row_q4_0(x, fast);
  for (size_t b = 0; b < nb; ++b) {
    ASSERT_EQ(std::memcmp(&ref[b], &fast[b], sizeof(BlockQ4_0)), 0) << "quantize, block " << b;
  }
  std::mt19937 rng(29);
  std::vector<BlockQ4_0> any(nb);
  auto* raw = reinterpret_cast<unsigned char*>(any.data());
  for (size_t i = 0; i < nb * sizeof(BlockQ4_0); ++i) raw[i] = static_cast<unsigned char>(rng());
  for (const auto* blocks : {&ref, &any}) {
    std::vector<float> yr(x.size()), yf(x.size());
    dequantize_row_q4_0_ref(*blocks, yr);
    dequantize_row_q4_0(*blocks, yf);
    for (size_t i = 0; i < yr.size(); ++i) {
      ASSERT_EQ(std::bit_cast<uint32_t>(yr[i]), std::bit_cast<uint32_t>(yf[i])) << "dequantize, element " << i;
    }
  }
}

}  // namespace
}  // namespace fedlora::lora
