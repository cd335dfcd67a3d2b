// Tree-aggregated noise and the DP-FTRL aggregator. The node noise is reproduced from an
// identically seeded NoiseSource using the documented draw order (the node ending at leaf s
// of a tree is the s-th d-vector drawn), and the prefix decomposition is recomputed here
// from the binary expansion of t, independently of the stack kept by the implementation.
#include "privacy/ftrl/dp_ftrl.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <span>
#include <vector>

#include "privacy/errors.h"
#include "privacy/ftrl/tree_aggregation_noise.h"

namespace fedlora::privacy {
namespace {

// Draws `count` d-vectors in order from a fresh stream of the given seed.
std::vector<Eigen::VectorXd> draws(std::uint64_t seed, int count, int d, double stddev) {
  NoiseSource src = NoiseSource::from_seed(seed, {42});
  std::vector<Eigen::VectorXd> out;
  for (int i = 0; i < count; ++i) {
    Eigen::VectorXd v(d);
    src.fill_gaussian(std::span<double>(v.data(), static_cast<std::size_t>(d)), stddev);
    out.push_back(v);
  }
  return out;
}

// Prefix [1, t] = ∪ over set bits ℓ of t of the node ending at leaf t − (t mod 2^ℓ).
Eigen::VectorXd expected_prefix_noise(const std::vector<Eigen::VectorXd>& node_ending_at,
                                      std::int64_t t, int d) {
  Eigen::VectorXd s = Eigen::VectorXd::Zero(d);
  for (int l = 0; l < 62; ++l) {
    if ((t >> l) & 1) {
      const std::int64_t end = t - (t % (std::int64_t{1} << l));
      s += node_ending_at[static_cast<std::size_t>(end - 1)];
    }
  }
  return s;
}

TEST(TreeAggregationNoise, PrefixNoiseIsTheSumOfTheBinaryDecomposition) {
  constexpr int d = 3;
  const auto nodes = draws(7, 40, d, 0.8);
  TreeAggregationNoise tree(d, 0.8, NoiseSource::from_seed(7, {42}));
  for (std::int64_t t = 1; t <= 40; ++t) {
    const Eigen::VectorXd& got = tree.next();
    EXPECT_EQ(tree.leaf(), t);
    EXPECT_EQ(tree.stored_nodes(), static_cast<std::size_t>(std::popcount(static_cast<std::uint64_t>(t))));
    EXPECT_TRUE(got.isApprox(expected_prefix_noise(nodes, t, d), 1e-14)) << "t=" << t;
  }
  // Hand check of t = 6 = 110b: nodes (0,4] (drawn at leaf 4) and (4,6] (drawn at leaf 6).
  TreeAggregationNoise again(d, 0.8, NoiseSource::from_seed(7, {42}));
  for (int i = 0; i < 5; ++i) again.next();
  EXPECT_TRUE(again.next().isApprox(nodes[3] + nodes[5], 1e-14));
}

TEST(TreeAggregationNoise, RestartStartsAFreshTree) {
  constexpr int d = 2;
  const auto nodes = draws(9, 11, d, 1.0);
  TreeAggregationNoise tree(d, 1.0, NoiseSource::from_seed(9, {42}), /*restart_every=*/4);
  for (int t = 1; t <= 4; ++t) {
    tree.next();
    EXPECT_EQ(tree.restarted(), t == 1);
  }
  EXPECT_TRUE(tree.next().isApprox(nodes[4], 1e-14));  // leaf 1 of tree 2: only its own node
  EXPECT_TRUE(tree.restarted());
  EXPECT_EQ(tree.trees(), 2);
  EXPECT_EQ(tree.leaf(), 1);
  EXPECT_TRUE(tree.next().isApprox(nodes[5], 1e-14));  // leaf 2: node (0,2] of tree 2
  EXPECT_TRUE(tree.next().isApprox(nodes[5] + nodes[6], 1e-14));
}

TEST(TreeAggregationNoise, PrefixVarianceIsPopcountTimesNodeVariance) {
  // Statistical check on 40 000 coordinates: var(prefix t) = popcount(t)·σ²S².
  constexpr int d = 40000;
  TreeAggregationNoise tree(d, 2.0, NoiseSource::from_seed(11, {1}));
  for (std::int64_t t = 1; t <= 7; ++t) {
    const Eigen::VectorXd& n = tree.next();
    const double var = n.squaredNorm() / d;
    const double expected = std::popcount(static_cast<std::uint64_t>(t)) * 4.0;
    EXPECT_NEAR(var / expected, 1.0, 0.03) << t;  // 3% ≈ 4 standard errors of the estimate
  }
}

TEST(TreeAggregationNoise, RejectsBadArguments) {
  EXPECT_THROW(TreeAggregationNoise(0, 1.0, NoiseSource::from_seed(1, {1})), InvalidPrivacyParameter);
  EXPECT_THROW(TreeAggregationNoise(3, -1.0, NoiseSource::from_seed(1, {1})), InvalidPrivacyParameter);
  EXPECT_THROW(TreeAggregationNoise(3, std::numeric_limits<double>::infinity(),
                                    NoiseSource::from_seed(1, {1})),
               InvalidPrivacyParameter);
  EXPECT_THROW(TreeAggregationNoise(3, 1.0, NoiseSource::from_seed(1, {1}), -1),
               InvalidPrivacyParameter);
}

TEST(DpFtrl, NoiselessTreeTelescopesToTheFedAvgAverage) {
  // σ = 0: P_t is the exact prefix sum and model_delta the plain average Σ_t / K.
  DpFtrlConfig cfg{0.0, 1.0, 0, 4};
  DpFtrlAggregator agg(2, cfg, NoiseSource::from_seed(3, {1}));
  const std::vector<double> s1{4.0, -8.0}, s2{2.0, 2.0};
  const DpFtrlRound r1 = agg.aggregate(s1);
  EXPECT_DOUBLE_EQ(r1.model_delta[0], 1.0);
  EXPECT_DOUBLE_EQ(r1.model_delta[1], -2.0);
  const DpFtrlRound r2 = agg.aggregate(s2);
  EXPECT_DOUBLE_EQ(r2.noised_prefix_sum[0], 6.0);
  EXPECT_DOUBLE_EQ(r2.noised_prefix_sum[1], -6.0);
  EXPECT_DOUBLE_EQ(r2.model_delta[0], 0.5);
  EXPECT_EQ(r2.leaf, 2);
  EXPECT_EQ(agg.rounds(), 2);
}

TEST(DpFtrl, NoisedPrefixSumsCarryTheTreeNoise) {
  constexpr int d = 3;
  const double sigma = 1.5, clip = 0.4;
  const auto nodes = draws(5, 8, d, sigma * clip);
  DpFtrlConfig cfg{sigma, clip, /*restart_every=*/3, /*expected_cohort=*/10};
  DpFtrlAggregator agg(d, cfg, NoiseSource::from_seed(5, {42}));
  std::vector<Eigen::VectorXd> sums;
  for (int r = 0; r < 8; ++r) sums.push_back(Eigen::VectorXd::Constant(d, r + 1.0));
  // Trees: rounds 1-3, 4-6, 7-8. Reference: prefix within the tree + its decomposition noise.
  Eigen::VectorXd previous = Eigen::VectorXd::Zero(d);
  for (int r = 0; r < 8; ++r) {
    const DpFtrlRound got = agg.aggregate(std::span<const double>(sums[r].data(), d));
    const int tree_start = (r / 3) * 3;
    const std::int64_t t = r - tree_start + 1;
    std::vector<Eigen::VectorXd> tree_nodes(nodes.begin() + tree_start, nodes.end());
    Eigen::VectorXd prefix = Eigen::VectorXd::Zero(d);
    for (int s = tree_start; s <= r; ++s) prefix += sums[s];
    const Eigen::VectorXd expected = prefix + expected_prefix_noise(tree_nodes, t, d);
    EXPECT_TRUE(got.noised_prefix_sum.isApprox(expected, 1e-13)) << r;
    EXPECT_EQ(got.tree_restarted, t == 1);
    EXPECT_EQ(got.tree, r / 3 + 1);
    if (t == 1) previous.setZero();
    EXPECT_TRUE(got.model_delta.isApprox((expected - previous) / 10.0, 1e-13)) << r;
    previous = expected;
  }
}

TEST(DpFtrl, RejectsBadInputWithoutChangingState) {
  EXPECT_THROW((DpFtrlConfig{-1.0, 1.0, 0, 1}.validate()), InvalidPrivacyParameter);
  EXPECT_THROW((DpFtrlConfig{1.0, 0.0, 0, 1}.validate()), InvalidPrivacyParameter);
  EXPECT_THROW((DpFtrlConfig{1.0, 1.0, -2, 1}.validate()), InvalidPrivacyParameter);
  EXPECT_THROW((DpFtrlConfig{1.0, 1.0, 0, 0}.validate()), InvalidPrivacyParameter);
  DpFtrlAggregator agg(2, DpFtrlConfig{1.0, 1.0, 0, 1}, NoiseSource::from_seed(1, {1}));
  const std::vector<double> wrong{1.0, 2.0, 3.0};
  EXPECT_THROW(agg.aggregate(wrong), InvalidPrivacyParameter);
  const std::vector<double> nan{1.0, std::nan("")};
  EXPECT_THROW(agg.aggregate(nan), NonFiniteValueError);
  EXPECT_EQ(agg.rounds(), 0);
  EXPECT_EQ(agg.tree().leaf(), 0);
}

}  // namespace
}  // namespace fedlora::privacy
