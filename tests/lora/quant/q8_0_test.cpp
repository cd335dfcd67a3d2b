// Q8_0 (ggml block_q8_0): hand-computed blocks, the round-trip error bound, and the fast
// kernels against the reference bit for bit.
#include "lora/quant/q8_0.h"

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

using Quants = std::array<int, 32>;

// Hand-computed cases run through both the reference and the fast quantizer.
BlockQ8_0 quantize_one(const std::array<float, 32>& x) {
  BlockQ8_0 ref, fast;
  quantize_row_q8_0_ref(x, std::span<BlockQ8_0>(&ref, 1));
  quantize_row_q8_0(x, std::span<BlockQ8_0>(&fast, 1));
  EXPECT_EQ(std::memcmp(&ref, &fast, sizeof ref), 0) << "fast quantizer differs from the reference";
  return ref;
}

void expect_block(const BlockQ8_0& b, uint16_t d, const Quants& qs) {
  EXPECT_EQ(b.d, d) << std::hex << "d bits 0x" << b.d << ", expected 0x" << d;
  for (int j = 0; j < 32; ++j) EXPECT_EQ(b.qs[j], qs[j]) << "element " << j;
}

std::array<float, 32> padded(std::initializer_list<float> head) {
  std::array<float, 32> x{};
  std::copy(head.begin(), head.end(), x.begin());
  return x;
}

TEST(Q8_0, UnitScaleAndRoundingTies) {
  // amax = 127 -> d = 127/127 = 1.0 exactly (fp16 0x3C00), id = 1, so q = roundf(x):
  // halves round away from zero (2.5 -> 3, -0.5 -> -1), 0.49999997 = 0.5 - 2^-25 -> 0.
  std::array<float, 32> x = {127.0f, -127.0f, 2.5f,  -2.5f, 0.5f,   -0.5f,    1.5f,   0.49999997f,
                             126.5f, -126.5f, 3.4999998f, 0.0f, -0.0f, 100.25f, -64.75f, 0.001f};
  Quants q = {127, -127, 3, -3, 1, -1, 2, 0, 127, -127, 3, 0, 0, 100, -65, 0};
  for (int k = 0; k < 16; ++k) {
    x[16 + k] = static_cast<float>(-60 + 8 * k);  // integers: q = x
    q[16 + k] = -60 + 8 * k;
  }
  expect_block(quantize_one(x), 0x3C00, q);
}

TEST(Q8_0, ScaleOneOver127) {
  // amax = 1: d = fl(1/127) = 0.0078740157; as fp16: 1/127 = 1.00787 * 2^-7, exponent
  // 8 -> 0x2000, fraction 0.00787 * 1024 = 8.06 -> 8: d = 0x2008 (= 0.00787353515625).
  // id = fl(1/fl(1/127)) = 127 exactly (fl(1/127) is 2.8e-9 low, 127 * that is far below
  // half an ulp of 127), so 0.5 -> 63.5 is a tie -> 64, 0.3f -> 38.1000015 -> 38.
  const auto b = quantize_one(padded({1.0f, 0.5f, -0.5f, 0.3f, -1.0f}));
  expect_block(b, 0x2008, {127, 64, -64, 38, -127});
  // The bytes on disk: d little-endian, then the quants as two's complement bytes.
  unsigned char raw[34];
  std::memcpy(raw, &b, 34);
  EXPECT_EQ(raw[0], 0x08);
  EXPECT_EQ(raw[1], 0x20);
  EXPECT_EQ(raw[2], 0x7F);  // 127
  EXPECT_EQ(raw[3], 0x40);  // 64
  EXPECT_EQ(raw[4], 0xC0);  // -64
  EXPECT_EQ(raw[5], 0x26);  // 38
  EXPECT_EQ(raw[6], 0x81);  // -127
  // Dequantize uses the fp16 scale: 64 * 0.00787353515625 = 0.50390625.
  std::array<float, 32> y;
  dequantize_row_q8_0_ref(std::span<const BlockQ8_0>(&b, 1), y);
  EXPECT_EQ(y[0], 127 * 0.00787353515625f);
  EXPECT_EQ(y[1], 0.50390625f);
  EXPECT_EQ(y[2], -0.50390625f);
  EXPECT_EQ(y[5], 0.0f);
}

TEST(Q8_0, OneLargeValueDominates) {
  // amax = 1000: d = fl(1000/127) = 7.8740158; fp16: 7.874 = 1.9685 * 2^2, exponent 17 ->
  // 0x4400, fraction 0.9685 * 1024 = 991.75 -> 992 = 0x3E0: d = 0x47E0 (= 7.875).
  // id = fl(1/d) = 0.127000004: 3.9 -> 0.495 -> 0, 4 -> 0.508 -> 1, 3.937 -> 0.499999 -> 0,
  // 3.938 -> 0.500126 -> 1, -500 -> -63.500002 -> -64; the small weights are lost.
  const auto b = quantize_one(padded({1000.0f, 1.0f, 3.9f, 4.0f, -4.0f, 3.937f, 3.938f, -500.0f}));
  expect_block(b, 0x47E0, {127, 0, 0, 1, -1, 0, 1, -64});
  std::array<float, 32> y;
  dequantize_row_q8_0_ref(std::span<const BlockQ8_0>(&b, 1), y);
  EXPECT_EQ(y[0], 1000.125f);  // 127 * 7.875
  EXPECT_EQ(y[3], 7.875f);
  EXPECT_EQ(y[7], -504.0f);
}

TEST(Q8_0, AllZerosBlock) {
  // amax = 0 -> d = 0 (0x0000) and id = 0 (ggml's `d ? 1/d : 0`), every quant 0.
  std::array<float, 32> x{};
  x[3] = -0.0f;
  expect_block(quantize_one(x), 0x0000, {});
}

TEST(Q8_0, ScaleTiesRoundToEvenInFp16) {
  // amax = 127 * (1 + 2^-11) = 127.06201171875 (exact in fp32): d = 1 + 2^-11 exactly,
  // halfway between fp16 0x3C00 and 0x3C01 -> even 0x3C00. The quants still use the fp32
  // d: id = 0.99951196, so 0.5 -> 0.49976 -> 0 and 63.5 -> 63.469 -> 63.
  expect_block(quantize_one(padded({127.06201171875f, -127.06201171875f, 0.5f, 63.5f})), 0x3C00,
               {127, -127, 0, 63});
  // amax = 127 * (1 + 3 * 2^-11): d halfway between 0x3C01 and 0x3C02 -> even 0x3C02.
  expect_block(quantize_one(padded({127.18603515625f})), 0x3C02, {127});
}

TEST(Q8_0, ScaleUnderflow) {
  // amax = 1e-38: d = 7.9e-41 (an fp32 subnormal) -> fp16 0; 1/d overflows to +Inf, so
  // x * id is ±Inf or NaN (0 * Inf). ggml's C cast of that to int8_t is undefined; its
  // x86-64 build stores 0 (low byte of cvttss2si's 0x80000000), which we pin.
  expect_block(quantize_one(padded({1e-38f, -5e-39f})), 0x0000, {});
}

TEST(Q8_0, RejectsBadSizesAndNonFinite) {
  std::vector<float> x(64, 1.0f);
  std::vector<BlockQ8_0> y(1);
  EXPECT_THROW(quantize_row_q8_0_ref(x, y), QuantError);
  EXPECT_THROW(quantize_row_q8_0(x, y), QuantError);
  std::vector<float> out(31);
  EXPECT_THROW(dequantize_row_q8_0_ref(y, out), QuantError);
  EXPECT_THROW(dequantize_row_q8_0(y, out), QuantError);
  std::vector<float> bad(32, 1.0f);
  bad[7] = std::nanf("");
  try {
    quantize_row_q8_0(bad, y);
    FAIL() << "NaN accepted";
  } catch (const QuantError& e) {
    EXPECT_NE(std::string(e.what()).find("element 7"), std::string::npos) << e.what();
  }
  bad[7] = INFINITY;
  EXPECT_THROW(quantize_row_q8_0_ref(bad, y), QuantError);
}

// Error bound, derived from the scheme. With d = fl(amax/127) (fp32), id = fl(1/d),
// t = fl(x*id) and q = roundf(t):
//   |t - x/d| <= 127 * 2^-23 (two roundings of a value <= 127), |q - t| <= 1/2,
// so |x - q*d| <= (1/2 + 127*2^-23) * d. The file stores d16 = fp16(d) and decodes
// x̂ = fl(q * d16), hence
//   |x - x̂| <= (1/2 + 1.6e-5) * d + 127 * |d - d16| + |x̂| * 2^-24.
// The middle term (fp16 rounding of the scale, up to 127 * 2^-11 * d ≈ 0.062 d) is why
// the plain d/2 bound is not enough.
TEST(Q8_0, RoundTripErrorBound) {
  const auto x = testref::random_blocks(4000, testref::moderate_kinds(), 7);
  std::vector<BlockQ8_0> blocks(x.size() / 32);
  quantize_row_q8_0(x, blocks);
  std::vector<float> y(x.size());
  dequantize_row_q8_0(blocks, y);
  for (size_t b = 0; b < blocks.size(); ++b) {
    float amax = 0;
    for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(x[b * 32 + j]));
    const double d = amax / 127.0f;
    const double d16 = testref::half_value(blocks[b].d);
    for (int j = 0; j < 32; ++j) {
      const size_t i = b * 32 + j;
      const double bound = (0.5 + 1.6e-5) * d + 127.0 * std::fabs(d - d16) + std::fabs(y[i]) * 0x1p-24;
      ASSERT_LE(std::fabs(static_cast<double>(x[i]) - y[i]), bound) << "block " << b << " element " << j;
    }
  }
}

TEST(Q8_0, FastEqualsReferenceBitForBit) {
  SCOPED_TRACE(std::string("kernel path: ") + std::string(quant_kernel_path()));
  const auto x = testref::random_blocks(20000, testref::all_kinds(), 11);
  const size_t nb = x.size() / 32;
  std::vector<BlockQ8_0> ref(nb), fast(nb);
  quantize_row_q8_0_ref(x, ref);
  quantize_row_q8_0(x, fast);
  for (size_t b = 0; b < nb; ++b) {
    ASSERT_EQ(std::memcmp(&ref[b], &fast[b], sizeof(BlockQ8_0)), 0) << "quantize, block " << b;
  }
  // Dequantize the quantized rows and arbitrary bytes (any scale bits: subnormal, Inf, NaN).
  std::mt19937 rng(5);
  std::vector<BlockQ8_0> any(nb);
  auto* raw = reinterpret_cast<unsigned char*>(any.data());
  for (size_t i = 0; i < nb * sizeof(BlockQ8_0); ++i) raw[i] = static_cast<unsigned char>(rng());
  for (const auto* blocks : {&ref, &any}) {
    std::vector<float> yr(x.size()), yf(x.size());
    dequantize_row_q8_0_ref(*blocks, yr);
    dequantize_row_q8_0(*blocks, yf);
    for (size_t i = 0; i < yr.size(); ++i) {
      ASSERT_EQ(std::bit_cast<uint32_t>(yr[i]), std::bit_cast<uint32_t>(yf[i])) << "dequantize, element " << i;
    }
  }
}

}  // namespace
}  // namespace fedlora::lora
