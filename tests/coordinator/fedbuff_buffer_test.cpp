// FedBuff's server step against hand-computed values (Nguyen et al. AISTATS 2022, Alg. 1
// with w(s) = 1/√(1+s)), and its refusal of bad updates without touching the buffer.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "coordinator/strategy/fedbuff_buffer.h"
#include "coordinator/strategy/server_optimizer_config.h"

namespace fedlora::coordinator {
namespace {

FedBuffBuffer two_dim(int k, double lr = 1.0) {
  ServerOptimizerConfig c;
  c.server_lr = lr;
  return FedBuffBuffer(Eigen::VectorXf::Zero(2), k, make_server_optimizer(c, 2));
}

TEST(FedBuff, StalenessWeights) {
  EXPECT_DOUBLE_EQ(staleness_weight(0), 1.0);
  EXPECT_DOUBLE_EQ(staleness_weight(3), 0.5);
  EXPECT_DOUBLE_EQ(staleness_weight(8), 1.0 / 3.0);
  EXPECT_THROW(staleness_weight(-1), std::invalid_argument);
}

// K = 2, η = 1. Step 1: Δ1 = (1, 0), Δ2 = (0, 2), both fresh: θ = ((1,0) + (0,2)) / 2 = (0.5, 1).
// Step 2: Δ3 = (2, 2) from version 0 (staleness 1, weight 1/√2) and Δ4 = (0, 4) from
// version 1 (fresh): Δ̄ = ((√2, √2) + (0, 4)) / 2, so θ = (0.5 + √2/2, 1 + √2/2 + 2).
TEST(FedBuff, HandComputedSteps) {
  auto b = two_dim(2);
  const float d1[] = {1, 0}, d2[] = {0, 2}, d3[] = {2, 2}, d4[] = {0, 4};
  EXPECT_FALSE(b.receive(d1, 0));
  EXPECT_EQ(b.buffered(), 1);
  const auto s1 = b.receive(d2, 0);
  ASSERT_TRUE(s1);
  EXPECT_EQ(s1->version, 1);
  EXPECT_EQ(b.version(), 1);
  EXPECT_FLOAT_EQ(b.theta()[0], 0.5f);
  EXPECT_FLOAT_EQ(b.theta()[1], 1.0f);
  EXPECT_DOUBLE_EQ(s1->mean_staleness, 0);
  EXPECT_FALSE(b.receive(d3, 0));
  const auto s2 = b.receive(d4, 1);
  ASSERT_TRUE(s2);
  const double r = std::sqrt(2.0) / 2;
  EXPECT_NEAR(b.theta()[0], 0.5 + r, 1e-6);
  EXPECT_NEAR(b.theta()[1], 1 + r + 2, 1e-6);
  EXPECT_DOUBLE_EQ(s2->mean_staleness, 0.5);
  EXPECT_DOUBLE_EQ(s2->max_staleness, 1);
  EXPECT_NEAR(s2->update_norm, std::hypot(r, r + 2), 1e-12);
}

TEST(FedBuff, RefusesBadUpdatesAndKeepsTheBuffer) {
  auto b = two_dim(3);
  const float ok[] = {1, 1}, nan[] = {1, std::numeric_limits<float>::quiet_NaN()}, three[] = {1, 2, 3};
  EXPECT_FALSE(b.receive(ok, 0));
  EXPECT_THROW(b.receive(nan, 0), std::invalid_argument);
  EXPECT_THROW(b.receive(three, 0), std::invalid_argument);
  EXPECT_THROW(b.receive(ok, 1), std::invalid_argument);  // a version the server has not reached
  EXPECT_THROW(b.receive(ok, -1), std::invalid_argument);
  EXPECT_EQ(b.buffered(), 1);
  EXPECT_EQ(b.version(), 0);
  EXPECT_FALSE(b.receive(ok, 0));
  const auto s = b.receive(ok, 0);
  ASSERT_TRUE(s);
  EXPECT_FLOAT_EQ(b.theta()[0], 1.0f);  // the mean of three (1, 1): the refused ones left no trace
  ServerOptimizerConfig c;
  EXPECT_THROW(FedBuffBuffer(Eigen::VectorXf::Zero(2), 0, make_server_optimizer(c, 2)), std::invalid_argument);
  EXPECT_THROW(FedBuffBuffer(Eigen::VectorXf::Zero(3), 1, make_server_optimizer(c, 2)), std::invalid_argument);
}

}  // namespace
}  // namespace fedlora::coordinator
