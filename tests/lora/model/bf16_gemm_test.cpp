// bf16-operand GEMM (lora/model/bf16_gemm.h): the rounding against hand-computed bf16
// values, and the product against a double-precision triple loop over the rounded operands.
#include "lora/model/bf16_gemm.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <limits>
#include <random>
#include <stdexcept>
#include <vector>

#include "lora/model/blas.h"
#include "tests/support/normal_floats.h"

namespace fedlora::lora {
namespace {

TEST(RoundToBf16, HandComputedValues) {
  EXPECT_EQ(round_to_bf16(1.0f), 1.0f);
  EXPECT_EQ(round_to_bf16(-2.5f), -2.5f);  // exactly representable
  // bf16 keeps 7 fraction bits: near 1 the spacing is 2^-7.
  EXPECT_EQ(round_to_bf16(1.0f + std::ldexp(1.0f, -8)), 1.0f);  // halfway: ties to even (1.0)
  EXPECT_EQ(round_to_bf16(1.0f + 3 * std::ldexp(1.0f, -8)), 1.0f + std::ldexp(1.0f, -6));  // halfway: to even
  EXPECT_EQ(round_to_bf16(1.0f + std::ldexp(1.0f, -8) + std::ldexp(1.0f, -20)), 1.0f + std::ldexp(1.0f, -7));
  EXPECT_EQ(round_to_bf16(1.0f + std::ldexp(1.0f, -9)), 1.0f);  // below half
  // 1e30f is 0x7149F2CA: the low half 0xF2CA is above half, so the top half rounds up.
  EXPECT_EQ(round_to_bf16(1e30f), std::bit_cast<float>(0x714A0000u));
  EXPECT_TRUE(std::isinf(round_to_bf16(std::numeric_limits<float>::max())));  // rounds past the largest bf16
  EXPECT_TRUE(std::isinf(round_to_bf16(-std::numeric_limits<float>::infinity())));
  EXPECT_TRUE(std::isnan(round_to_bf16(std::numeric_limits<float>::quiet_NaN())));
  EXPECT_TRUE(std::isnan(round_to_bf16(std::numeric_limits<float>::signaling_NaN())));
  // Denormal inputs count as zero (as vcvtneps2bf16 treats them), keeping the sign.
  EXPECT_EQ(round_to_bf16(1e-40f), 0.0f);
  EXPECT_TRUE(std::signbit(round_to_bf16(-1e-40f)));
  EXPECT_EQ(round_to_bf16(std::numeric_limits<float>::min()), std::numeric_limits<float>::min());
}

// op(X)[i, j] of row-major storage with row stride ld.
float op_at(const std::vector<float>& x, bool trans, int64_t ld, int64_t i, int64_t j) {
  return trans ? x[static_cast<size_t>(j * ld + i)] : x[static_cast<size_t>(i * ld + j)];
}

TEST(Bf16Gemm, MatchesDoubleProductOfRoundedOperands) {
  if (!bf16_products_available()) GTEST_SKIP() << "this CPU has no AVX512_BF16";
  struct Case {
    int64_t m, n, k;
    bool ta, tb;
    float alpha, beta;
    int64_t pad;  // extra row stride beyond the row
  };
  for (const Case& c : {Case{7, 13, 37, false, false, 1.0f, 0.0f, 0}, Case{7, 13, 37, true, false, 0.5f, 0.0f, 3},
                        Case{33, 5, 64, false, true, 1.0f, 1.0f, 0}, Case{33, 5, 64, true, true, 0.125f, 1.0f, 17},
                        Case{256, 128, 64, false, true, 0.125f, 0.0f, 0}, Case{1, 1, 1, false, false, 2.0f, 1.0f, 1},
                        Case{64, 64, 256, true, false, 1.0f, 1.0f, 0}}) {
    const int64_t a_rows = c.ta ? c.k : c.m, a_cols = c.ta ? c.m : c.k;
    const int64_t b_rows = c.tb ? c.n : c.k, b_cols = c.tb ? c.k : c.n;
    const int64_t lda = a_cols + c.pad, ldb = b_cols + c.pad, ldc = c.n + c.pad;
    auto a = test::normal_floats(static_cast<size_t>(a_rows * lda), 1);
    auto b = test::normal_floats(static_cast<size_t>(b_rows * ldb), 2);
    auto c0 = test::normal_floats(static_cast<size_t>(c.m * ldc), 3);
    std::vector<float> out = c0;
    if (c.beta == 0.0f)  // C must not be read
      for (auto& x : out) x = std::numeric_limits<float>::quiet_NaN();
    gemm_bf16_rowmajor(c.ta, c.tb, c.m, c.n, c.k, c.alpha, a.data(), lda, b.data(), ldb, c.beta, out.data(), ldc);
    for (int64_t i = 0; i < c.m; ++i)
      for (int64_t j = 0; j < c.n; ++j) {
        double ref = 0, mag = 0;
        for (int64_t p = 0; p < c.k; ++p) {
          const double x = round_to_bf16(op_at(a, c.ta, lda, i, p)), y = round_to_bf16(op_at(b, c.tb, ldb, p, j));
          ref += x * y;
          mag += std::abs(x * y);
        }
        const double base = c.beta == 0.0f ? 0.0 : c.beta * static_cast<double>(c0[static_cast<size_t>(i * ldc + j)]);
        ref = c.alpha * ref + base;
        // float32 accumulation of k exact products: a few ulps of the magnitude per term.
        const double tol = 1e-6 * (std::abs(c.alpha) * mag + std::abs(base)) * std::sqrt(static_cast<double>(c.k)) + 1e-6;
        ASSERT_NEAR(out[static_cast<size_t>(i * ldc + j)], ref, tol)
            << "m " << c.m << " n " << c.n << " k " << c.k << " ta " << c.ta << " tb " << c.tb << " at " << i << ","
            << j;
      }
    // Padding between rows of C is never written.
    for (int64_t i = 0; i < c.m; ++i)
      for (int64_t j = c.n; j < ldc; ++j) {
        const float v = out[static_cast<size_t>(i * ldc + j)];
        if (c.beta == 0.0f) EXPECT_TRUE(std::isnan(v));
        else EXPECT_EQ(v, c0[static_cast<size_t>(i * ldc + j)]);
      }
  }
}

TEST(Bf16Gemm, DiffersFromFloat32WhereRoundingMatters) {
  if (!bf16_products_available()) GTEST_SKIP() << "this CPU has no AVX512_BF16";
  // 1 + 2^-9 rounds to 1 in bf16: the bf16 product must see 1, float32 sees the exact value.
  const float a = 1.0f + std::ldexp(1.0f, -9), b = 3.0f;
  float c16 = 0, c32 = 0;
  gemm_bf16_rowmajor(false, false, 1, 1, 1, 1.0f, &a, 1, &b, 1, 0.0f, &c16, 1);
  sgemm_rowmajor(false, false, 1, 1, 1, 1.0f, &a, 1, &b, 1, 0.0f, &c32, 1);
  EXPECT_EQ(c16, 3.0f);
  EXPECT_EQ(c32, a * b);
  float cf = 0;
  float_gemm_rowmajor(FloatProducts::bf16, false, false, 1, 1, 1, 1.0f, &a, 1, &b, 1, 0.0f, &cf, 1);
  EXPECT_EQ(cf, 3.0f);
  // Switched off, FloatProducts::bf16 is the float32 product.
  set_bf16_products(false);
  float_gemm_rowmajor(FloatProducts::bf16, false, false, 1, 1, 1, 1.0f, &a, 1, &b, 1, 0.0f, &cf, 1);
  EXPECT_THROW(gemm_bf16_rowmajor(false, false, 1, 1, 1, 1.0f, &a, 1, &b, 1, 0.0f, &c16, 1), std::runtime_error);
  set_bf16_products(true);
  EXPECT_EQ(cf, c32);
}

TEST(Bf16Gemm, RejectsBadSizesAndStrides) {
  float a[4] = {}, b[4] = {}, c[4] = {};
  EXPECT_THROW(gemm_bf16_rowmajor(false, false, -1, 2, 2, 1.0f, a, 2, b, 2, 0.0f, c, 2), std::invalid_argument);
  EXPECT_THROW(gemm_bf16_rowmajor(false, false, 2, 2, 2, 1.0f, a, 1, b, 2, 0.0f, c, 2), std::invalid_argument);
  EXPECT_THROW(gemm_bf16_rowmajor(false, true, 2, 2, 2, 1.0f, a, 2, b, 1, 0.0f, c, 2), std::invalid_argument);
  EXPECT_THROW(gemm_bf16_rowmajor(false, false, 2, 2, 2, 1.0f, a, 2, b, 2, 0.0f, c, 1), std::invalid_argument);
}

}  // namespace
}  // namespace fedlora::lora
