// gemm_s8s8s32 (oneDNN on x86-64, NEON SDOT on aarch64) against the plain triple loop:
// exact int32 results for odd shapes and tails, both layouts of B, the full int8 range and
// the largest sums.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "lora/int8/s8_gemm.h"

namespace fedlora::lora {
namespace {

TEST(S8Gemm, HandComputedProduct) {
  // A = [[1, -2, 3], [127, -128, 0]], B = [[1, 0], [2, -1], [-3, 4]] (k × n).
  const std::vector<int8_t> a = {1, -2, 3, 127, -128, 0}, b = {1, 0, 2, -1, -3, 4}, bt = {1, 2, -3, 0, -1, 4};
  std::vector<int32_t> c(4);
  gemm_s8s8s32(a.data(), b.data(), c.data(), 2, 3, 2, false);
  EXPECT_EQ(c, (std::vector<int32_t>{1 - 4 - 9, 0 + 2 + 12, 127 - 256, 128}));
  gemm_s8s8s32(a.data(), bt.data(), c.data(), 2, 3, 2, true);
  EXPECT_EQ(c, (std::vector<int32_t>{-12, 14, -129, 128}));
}

TEST(S8Gemm, MatchesTheTripleLoopOnOddShapes) {
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> d(-128, 127);
  for (int64_t m : {1, 3, 4, 5, 9})
    for (int64_t k : {0, 1, 15, 16, 17, 33, 70})
      for (int64_t n : {1, 4, 6, 13})
        for (bool nk : {false, true}) {
          std::vector<int8_t> a(static_cast<size_t>(m * k)), b(static_cast<size_t>(k * n));
          for (auto& v : a) v = static_cast<int8_t>(d(rng));
          for (auto& v : b) v = static_cast<int8_t>(d(rng));
          std::vector<int32_t> c(static_cast<size_t>(m * n), 12345), ref(static_cast<size_t>(m * n));
          gemm_s8s8s32(a.data(), b.data(), c.data(), m, k, n, nk);
          gemm_s8s8s32_ref(a.data(), b.data(), ref.data(), m, k, n, nk);
          ASSERT_EQ(c, ref) << "m " << m << " k " << k << " n " << n << (nk ? " nk" : " kn") << " on " << s8_gemm_backend();
        }
}

// The extremes: every product (−128)·(−128) = 16384 over k = 4,000 sums to 65,536,000, and
// mixed signs cancel exactly.
TEST(S8Gemm, ExtremeOperandsSumExactly) {
  const int64_t m = 5, k = 4000, n = 6;
  std::vector<int8_t> a(m * k, -128), b(k * n, -128);
  for (int64_t p = 0; p < k; p += 2) a[p] = 127;  // row 0 alternates 127, −128
  std::vector<int32_t> c(m * n), ref(m * n);
  for (bool nk : {false, true}) {
    gemm_s8s8s32(a.data(), b.data(), c.data(), m, k, n, nk);
    gemm_s8s8s32_ref(a.data(), b.data(), ref.data(), m, k, n, nk);
    EXPECT_EQ(c, ref);
    EXPECT_EQ(c[n], 16384 * 4000);
    EXPECT_EQ(c[0], (127 * -128 + 16384) * 2000);
  }
}

// B packed once into the backend's layout gives the same exact products, for several m
// (the layout is chosen without m), odd k and n, both plain layouts and the int8 extremes.
TEST(S8Gemm, PackedMatchesTheTripleLoop) {
  std::mt19937 rng(9);
  std::uniform_int_distribution<int> d(-127, 127);
  for (int64_t k : {1, 15, 37, 64, 70})
    for (int64_t n : {1, 13, 53, 64, 256, 300, 600})  // above 256: several column panels
      for (bool nk : {false, true}) {
        std::vector<int8_t> b(static_cast<size_t>(k * n));
        for (auto& v : b) v = static_cast<int8_t>(d(rng));
        b[0] = -127;
        b.back() = 127;
        const PackedS8Matrix packed = pack_s8_matrix(b.data(), k, n, nk);
        if (std::string(s8_gemm_backend()) != "onednn") {
          EXPECT_TRUE(packed.empty());
          EXPECT_EQ(packed_s8_matrix_bytes(k, n, nk), 0u);
          continue;
        }
        ASSERT_FALSE(packed.empty());
        EXPECT_EQ(packed.bytes(), packed_s8_matrix_bytes(k, n, nk));
        for (int64_t m : {1, 5, 512}) {
          std::vector<int8_t> a(static_cast<size_t>(m * k));
          for (auto& v : a) v = static_cast<int8_t>(d(rng));
          std::vector<int32_t> c(static_cast<size_t>(m * n), 12345), ref(static_cast<size_t>(m * n));
          gemm_s8s8s32_packed(a.data(), packed, c.data(), m);
          gemm_s8s8s32_ref(a.data(), b.data(), ref.data(), m, k, n, nk);
          ASSERT_EQ(c, ref) << "m " << m << " k " << k << " n " << n << (nk ? " nk" : " kn");
        }
      }
  EXPECT_THROW(gemm_s8s8s32_packed(nullptr, PackedS8Matrix{}, nullptr, 1), std::invalid_argument);
}

// One panel at a time into a strided C: the panel's columns of the triple loop, and nothing
// written outside them.
TEST(S8Gemm, PackedPanelsAreColumnBlocksOfTheProduct) {
  if (std::string(s8_gemm_backend()) != "onednn") GTEST_SKIP() << "no packed layout on this backend";
  const int64_t m = 9, k = 33, n = 600;
  std::mt19937 rng(4);
  std::uniform_int_distribution<int> d(-127, 127);
  std::vector<int8_t> a(static_cast<size_t>(m * k)), b(static_cast<size_t>(k * n));
  for (auto& v : a) v = static_cast<int8_t>(d(rng));
  for (auto& v : b) v = static_cast<int8_t>(d(rng));
  const PackedS8Matrix packed = pack_s8_matrix(b.data(), k, n, false);
  ASSERT_EQ(packed.panels(), 3);
  EXPECT_EQ(packed.panel_cols(0), 256);
  EXPECT_EQ(packed.panel_cols(2), 600 - 512);
  std::vector<int32_t> ref(static_cast<size_t>(m * n));
  gemm_s8s8s32_ref(a.data(), b.data(), ref.data(), m, k, n, false);
  for (int64_t p = 0; p < packed.panels(); ++p) {
    const int64_t nb = packed.panel_cols(p), ldc = nb + 5;
    std::vector<int32_t> c(static_cast<size_t>(m * ldc), -7);
    gemm_s8s8s32_packed_panel(a.data(), packed, p, c.data(), ldc, m);
    for (int64_t i = 0; i < m; ++i) {
      for (int64_t j = 0; j < nb; ++j) ASSERT_EQ(c[i * ldc + j], ref[i * n + p * 256 + j]) << p << " " << i << " " << j;
      for (int64_t j = nb; j < ldc; ++j) ASSERT_EQ(c[i * ldc + j], -7);
    }
  }
  std::vector<int32_t> c(static_cast<size_t>(m * 256));
  EXPECT_THROW(gemm_s8s8s32_packed_panel(a.data(), packed, 3, c.data(), 256, m), std::invalid_argument);
  EXPECT_THROW(gemm_s8s8s32_packed_panel(a.data(), packed, -1, c.data(), 256, m), std::invalid_argument);
  EXPECT_THROW(gemm_s8s8s32_packed_panel(a.data(), packed, 0, c.data(), 255, m), std::invalid_argument);
}

TEST(S8Gemm, RefusesNegativeDimensions) {
  std::vector<int8_t> a(4), b(4);
  std::vector<int32_t> c(4);
  EXPECT_THROW(gemm_s8s8s32(a.data(), b.data(), c.data(), -1, 2, 2, false), std::invalid_argument);
  EXPECT_THROW(gemm_s8s8s32_ref(a.data(), b.data(), c.data(), 2, -2, 2, true), std::invalid_argument);
}

}  // namespace
}  // namespace fedlora::lora
