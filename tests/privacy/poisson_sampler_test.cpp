// Poisson sampling: independent Bernoulli(q) inclusion of every index.
#include "privacy/sampling/poisson_sampler.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "privacy/errors.h"

namespace fedlora::privacy {
namespace {

TEST(PoissonSample, ExtremesAndOrder) {
  NoiseSource s = NoiseSource::from_seed(3, {});
  EXPECT_TRUE(poisson_sample(1000, 0.0, s).empty());
  EXPECT_TRUE(poisson_sample(0, 0.5, s).empty());
  const auto all = poisson_sample(1000, 1.0, s);
  ASSERT_EQ(all.size(), 1000u);
  for (int i = 0; i < 1000; ++i) EXPECT_EQ(all[i], i);
  const auto some = poisson_sample(5000, 0.3, s);
  for (std::size_t i = 1; i < some.size(); ++i) EXPECT_LT(some[i - 1], some[i]);
  EXPECT_GE(some.front(), 0);
  EXPECT_LT(some.back(), 5000);
}

TEST(PoissonSample, InclusionIsIndependentBernoulli) {
  // Each of n indices is included with probability q in each of R draws: per-index counts
  // are Binomial(R, q), batch sizes Binomial(n, q), and the variance of the batch size
  // (n q (1−q)) distinguishes Poisson sampling from fixed-size batches (variance 0).
  constexpr int kN = 200, kRounds = 4000;
  constexpr double kQ = 0.05;
  NoiseSource s = NoiseSource::from_seed(17, {4});
  std::vector<int> hits(kN, 0);
  double size_sum = 0, size_sum2 = 0;
  for (int r = 0; r < kRounds; ++r) {
    const auto batch = poisson_sample(kN, kQ, s);
    for (auto i : batch) ++hits[i];
    size_sum += batch.size();
    size_sum2 += static_cast<double>(batch.size()) * batch.size();
  }
  const double mean = size_sum / kRounds;
  const double var = size_sum2 / kRounds - mean * mean;
  EXPECT_NEAR(mean, kN * kQ, 5 * std::sqrt(kN * kQ * (1 - kQ) / kRounds));
  EXPECT_NEAR(var, kN * kQ * (1 - kQ), 0.15 * kN * kQ * (1 - kQ));
  // Chi-square of per-index counts against Binomial(R, q): 199 d.o.f., p = 0.001 cut 267.
  const double e = kRounds * kQ;
  double chi2 = 0;
  for (int h : hits) chi2 += (h - e) * (h - e) / (e * (1 - kQ));
  EXPECT_LT(chi2, 267.0);
}

TEST(PoissonSample, ReproducibleFromSeed) {
  NoiseSource a = NoiseSource::from_seed(99, {1});
  NoiseSource b = NoiseSource::from_seed(99, {1});
  EXPECT_EQ(poisson_sample(10000, 0.01, a), poisson_sample(10000, 0.01, b));
}

TEST(PoissonSample, RejectsBadArguments) {
  NoiseSource s = NoiseSource::from_seed(1, {});
  EXPECT_THROW(poisson_sample(-1, 0.5, s), InvalidPrivacyParameter);
  EXPECT_THROW(poisson_sample(10, -0.1, s), InvalidPrivacyParameter);
  EXPECT_THROW(poisson_sample(10, 1.01, s), InvalidPrivacyParameter);
}

}  // namespace
}  // namespace fedlora::privacy
