// Fixed-point codec: validation, range, unbiased stochastic rounding, exact decoding.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "secure-agg/errors.h"
#include "secure-agg/fixed_point.h"

namespace fedlora::secagg {
namespace {

TEST(FixedPoint, ValidatesParameters) {
  EXPECT_THROW(FixedPointCodec({.clip = 0.0}), ConfigError);
  EXPECT_THROW(FixedPointCodec({.clip = -1.0}), ConfigError);
  EXPECT_THROW(FixedPointCodec({.clip = std::numeric_limits<double>::infinity()}), ConfigError);
  EXPECT_THROW(FixedPointCodec({.clip = 1.0, .bits = 0}), ConfigError);
  EXPECT_THROW(FixedPointCodec({.clip = 1.0, .bits = 53, .word_bits = 64}), ConfigError);
  EXPECT_THROW(FixedPointCodec({.clip = 1.0, .bits = 8, .max_contributors = 0}), ConfigError);
  EXPECT_THROW(FixedPointCodec({.clip = 1.0, .bits = 8, .max_contributors = 1, .word_bits = 16}), ConfigError);
  // b + ceil(log2 n) <= w: 22 + ceil(log2 1024) = 32 fits, 1025 clients do not.
  EXPECT_NO_THROW(FixedPointCodec({.clip = 1.0, .bits = 22, .max_contributors = 1024, .word_bits = 32}));
  EXPECT_THROW(FixedPointCodec({.clip = 1.0, .bits = 22, .max_contributors = 1025, .word_bits = 32}), ConfigError);
  EXPECT_NO_THROW(FixedPointCodec({.clip = 1.0, .bits = 22, .max_contributors = 1025, .word_bits = 64}));
  EXPECT_THROW(FixedPointCodec({.clip = 1.0, .bits = 8, .max_contributors = 2, .word_bits = 32, .weight_clip = 0.0}),
               ConfigError);
}

TEST(FixedPoint, EncodesEndpointsAndClips) {
  const FixedPointCodec codec({.clip = 2.0, .bits = 4, .max_contributors = 4});
  crypto::DeterministicRandom rng(1, "fp");
  const std::vector<float> v = {-2.0f, 2.0f, -100.0f, 100.0f, 0.0f};
  const auto e = codec.encode(v, rng);
  ASSERT_EQ(e.size(), 5u);
  EXPECT_EQ(e[0], 0u);
  EXPECT_EQ(e[1], 15u);
  EXPECT_EQ(e[2], 0u);   // clipped to -c
  EXPECT_EQ(e[3], 15u);  // clipped to +c
  EXPECT_TRUE(e[4] == 7u || e[4] == 8u);  // 0 maps to 7.5 levels
  EXPECT_DOUBLE_EQ(codec.step(), 4.0 / 15.0);
  const std::vector<float> bad = {0.0f, std::numeric_limits<float>::quiet_NaN()};
  EXPECT_THROW(codec.encode(bad, rng), ConfigError);
  const std::vector<float> inf = {std::numeric_limits<float>::infinity()};
  EXPECT_THROW(codec.encode(inf, rng), ConfigError);
}

// E[decode(encode(x))] = clip(x): the mean rounding error over many draws is ~0.
TEST(FixedPoint, StochasticRoundingIsUnbiased) {
  const FixedPointCodec codec({.clip = 1.0, .bits = 3, .max_contributors = 1});
  crypto::DeterministicRandom rng(5, "unbiased");
  const float x = 0.3f;  // 0.3 -> (1.3/2)*7 = 4.55 levels
  const int draws = 20000;
  std::vector<float> v(draws, x);
  const auto e = codec.encode(v, rng);
  double mean = 0;
  int up = 0;
  for (auto w : e) {
    ASSERT_TRUE(w == 4 || w == 5);
    up += w == 5;
    mean += static_cast<double>(w) * codec.step() - 1.0;
  }
  mean /= draws;
  // P[up] = 0.55 exactly; the std. error of the mean is step*sqrt(.55*.45/N) ~ 0.001.
  EXPECT_NEAR(mean, static_cast<double>(x), 0.006);
  EXPECT_NEAR(up / static_cast<double>(draws), (1.3 / 2.0) * 7 - 4, 0.02);
}

TEST(FixedPoint, SumDecodesWithinQuantizationBound) {
  crypto::DeterministicRandom rng(9, "sum");
  const std::uint32_t n = 37;
  const FixedPointCodec codec({.clip = 0.5, .bits = 12, .max_contributors = 64, .word_bits = 32});
  const std::size_t dim = 200;
  std::vector<std::uint64_t> sum(dim, 0);
  std::vector<double> truth(dim, 0.0);
  for (std::uint32_t u = 0; u < n; ++u) {
    std::vector<float> v(dim);
    for (auto& x : v) x = static_cast<float>(static_cast<double>(rng.uniform_below(2001)) / 1000.0 - 1.0);  // [-1, 1]
    const auto e = codec.encode(v, rng);
    for (std::size_t i = 0; i < dim; ++i) {
      sum[i] = (sum[i] + e[i]) & 0xffffffffu;
      truth[i] += std::clamp(static_cast<double>(v[i]), -0.5, 0.5);
    }
  }
  const auto d = codec.decode_sum(sum, n);
  for (std::size_t i = 0; i < dim; ++i) EXPECT_NEAR(d.values[i], truth[i], codec.sum_error_bound(n) + 1e-9);
  EXPECT_THROW(codec.decode_sum(sum, 0), ConfigError);
  EXPECT_THROW(codec.decode_sum(sum, 65), ConfigError);
  // A word no honest sum of 2 inputs can reach is rejected.
  std::vector<std::uint64_t> wild = {3 * 4095};
  EXPECT_THROW(codec.decode_sum(wild, 2), ProtocolError);
}

TEST(FixedPoint, WeightCoordinate) {
  const FixedPointCodec codec({.clip = 1.0, .bits = 16, .max_contributors = 8, .word_bits = 32, .weight_clip = 100.0});
  crypto::DeterministicRandom rng(2, "w");
  const std::vector<float> v = {0.25f};
  EXPECT_EQ(codec.encoded_length(1), 2u);
  EXPECT_THROW(codec.encode(v, rng), ConfigError);  // weight required
  const auto a = codec.encode(v, rng, 30.0);
  const auto b = codec.encode(v, rng, 250.0);  // clipped to 100
  const std::vector<std::uint64_t> s = {a[0] + b[0], a[1] + b[1]};
  const auto d = codec.decode_sum(s, 2);
  ASSERT_TRUE(d.weight_sum.has_value());
  EXPECT_NEAR(*d.weight_sum, 130.0, 2 * 100.0 / 65535.0);
  EXPECT_NEAR(d.values[0], 0.5, codec.sum_error_bound(2));
  const FixedPointCodec plain({.clip = 1.0, .bits = 8, .max_contributors = 2});
  EXPECT_THROW(plain.encode(v, rng, 1.0), ConfigError);
}

}  // namespace
}  // namespace fedlora::secagg
