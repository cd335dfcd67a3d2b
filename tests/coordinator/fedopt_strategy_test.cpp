// FedOptStrategy: configure_fit / aggregate_fit end to end through the Aggregator.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <set>

#include "coordinator/cohort/sample_cohort.h"
#include "coordinator/strategy/errors.h"
#include "coordinator/strategy/fedopt_strategy.h"
#include "tests/support/weighted_upload.h"

namespace fedlora::coordinator {
namespace {

Eigen::VectorXf vecf(std::initializer_list<float> v) {
  Eigen::VectorXf out(static_cast<Eigen::Index>(v.size()));
  Eigen::Index i = 0;
  for (float x : v) out[i++] = x;
  return out;
}

StrategyConfig base_config() {
  StrategyConfig c;
  c.cohort_size = 4;
  c.seed = 7;
  c.aggregation = AggregationPolicy::example_weighted();
  c.server_optimizer.name = "fedavg";
  return c;
}

TEST(FedOptStrategy, ConfigureFitSamplesKEligibleClientsAndSetsClientConfig) {
  StrategyConfig c = base_config();
  c.aggregation = AggregationPolicy::fixed_denominator_capped(50.0, 3.0);
  c.fedprox.mu = 0.01;
  FedOptStrategy strategy(c, 3);
  std::vector<std::uint64_t> available(30);
  std::iota(available.begin(), available.end(), 100);
  const std::unordered_set<std::uint64_t> ineligible = {100, 101, 102};

  const FitPlan plan = strategy.configure_fit(9, available, ineligible);
  EXPECT_EQ(plan.round, 9u);
  ASSERT_EQ(plan.cohort.size(), 4u);
  std::set<std::uint64_t> unique(plan.cohort.begin(), plan.cohort.end());
  EXPECT_EQ(unique.size(), 4u);
  for (std::uint64_t id : plan.cohort) {
    EXPECT_GE(id, 103u);
    EXPECT_LT(id, 130u);
  }
  // Same (seed, round) → same cohort; it is the cohort sampler's draw.
  EXPECT_EQ(plan.cohort, sample_cohort(available, 4, 9, 7, ineligible));
  EXPECT_EQ(plan.client_config.weighting, Weighting::kCappedExampleCount);
  EXPECT_EQ(plan.client_config.weight_cap_examples, 50.0);
  EXPECT_EQ(plan.client_config.weight(25), 0.5);
  EXPECT_EQ(plan.client_config.fedprox.mu, 0.01);
}

TEST(FedOptStrategy, ConfigureFitWithTooFewClientsThrows) {
  FedOptStrategy strategy(base_config(), 3);
  const std::vector<std::uint64_t> available = {1, 2, 3};
  EXPECT_THROW(strategy.configure_fit(0, available, {}), CohortError);
}

// One FedAvg round end to end, by hand (see aggregation_policy_test for the sums):
//   Δ̄ = [2.5, −1, 0.125]; θ0 = [0.5, 0.5, 0.5]; η = 0.5 → θ1 = [1.75, 0, 0.5625].
TEST(FedOptStrategy, AggregateFitAppliesExampleWeightedFedAvg) {
  StrategyConfig c = base_config();
  c.server_optimizer.server_lr = 0.5;
  FedOptStrategy strategy(c, 3);
  const FitPlan plan = strategy.configure_fit(0, std::vector<std::uint64_t>{1, 2, 3, 4, 5}, {});

  Aggregator agg(3, 4);
  agg.add_upload(plan.cohort[0], test::weighted(vecf({1, 2, -1}), plan.client_config.weight(1)), plan.client_config.weight(1));
  agg.add_upload(plan.cohort[1], test::weighted(vecf({3, -2, 0.5f}), plan.client_config.weight(3)), plan.client_config.weight(3));
  Eigen::VectorXf theta = vecf({0.5f, 0.5f, 0.5f});
  const FitOutcome out = strategy.aggregate_fit(0, agg.aggregate(), theta);
  EXPECT_EQ(theta, vecf({1.75f, 0.0f, 0.5625f}));
  EXPECT_EQ(out.divisor, 4.0);
  EXPECT_EQ(out.num_contributors, 2);
  EXPECT_EQ(out.expected_cohort_size, 4);
  // ‖[2.5, −1, 0.125]‖ = √(6.25 + 1 + 0.015625) = √7.265625
  EXPECT_DOUBLE_EQ(out.pseudo_gradient_l2_norm, std::sqrt(7.265625));
  EXPECT_EQ(out.optimizer_step, 1);
}

TEST(FedOptStrategy, FixedDenominatorIgnoresDropouts) {
  // ΣΔ = [4, 0, −0.5] from 2 of K = 4 clients; Δ̄ = ΣΔ / 4 = [1, 0, −0.125]; θ0 = 0, η = 1.
  StrategyConfig c = base_config();
  c.aggregation = AggregationPolicy::fixed_denominator_uniform();
  FedOptStrategy strategy(c, 3);
  Aggregator agg(3, 4);
  agg.add_upload(1, test::weighted(vecf({1, 2, -1}), 1.0), 1.0);
  agg.add_upload(2, test::weighted(vecf({3, -2, 0.5f}), 1.0), 1.0);
  Eigen::VectorXf theta = Eigen::VectorXf::Zero(3);
  strategy.aggregate_fit(0, agg.aggregate(), theta);
  EXPECT_EQ(theta, vecf({1.0f, 0.0f, -0.125f}));
}

TEST(FedOptStrategy, RejectsUnusableAggregatesWithoutTouchingTheta) {
  StrategyConfig c = base_config();
  c.min_contributors = 2;
  c.server_optimizer.name = "fedadam";
  FedOptStrategy strategy(c, 3);
  const Eigen::VectorXf theta0 = vecf({1, 2, 3});
  Eigen::VectorXf theta = theta0;

  UpdateAggregate one{Eigen::VectorXd::Ones(3), 1.0, 1, 4};  // below min_contributors
  EXPECT_THROW(strategy.aggregate_fit(0, one, theta), InvalidAggregateError);
  UpdateAggregate wrong_k{Eigen::VectorXd::Ones(3), 2.0, 2, 5};
  EXPECT_THROW(strategy.aggregate_fit(0, wrong_k, theta), InvalidAggregateError);
  UpdateAggregate wrong_d{Eigen::VectorXd::Ones(2), 2.0, 2, 4};
  EXPECT_THROW(strategy.aggregate_fit(0, wrong_d, theta), InvalidAggregateError);
  UpdateAggregate nan_sum{Eigen::VectorXd::Constant(3, std::nan("")), 2.0, 2, 4};
  EXPECT_THROW(strategy.aggregate_fit(0, nan_sum, theta), InvalidAggregateError);

  EXPECT_EQ(theta, theta0);
  EXPECT_EQ(strategy.optimizer().step(), 0);
  EXPECT_EQ(strategy.state().vectors.at("m"), Eigen::VectorXf::Zero(3));
}

TEST(FedOptStrategy, StateRoundTripsThroughCheckpoint) {
  StrategyConfig c = base_config();
  c.server_optimizer.name = "fedyogi";
  FedOptStrategy a(c, 2), b(c, 2);
  UpdateAggregate agg{Eigen::Vector2d(0.4, -0.8), 2.0, 2, 4};
  Eigen::VectorXf theta_a = Eigen::VectorXf::Zero(2);
  a.aggregate_fit(0, agg, theta_a);
  b.restore(a.state());
  Eigen::VectorXf theta_b = theta_a;
  a.aggregate_fit(1, agg, theta_a);
  b.aggregate_fit(1, agg, theta_b);
  EXPECT_EQ(theta_a, theta_b);
  EXPECT_EQ(b.optimizer().step(), 2);
}

TEST(FedOptStrategy, RejectsInvalidConfig) {
  StrategyConfig c = base_config();
  c.cohort_size = 0;
  EXPECT_THROW(FedOptStrategy(c, 3), StrategyConfigError);
  c = base_config();
  c.min_contributors = 0;
  EXPECT_THROW(FedOptStrategy(c, 3), StrategyConfigError);
  c.min_contributors = 5;  // > K = 4
  EXPECT_THROW(FedOptStrategy(c, 3), StrategyConfigError);
  c = base_config();
  c.fedprox.mu = -1;
  EXPECT_THROW(FedOptStrategy(c, 3), StrategyConfigError);
  c = base_config();
  c.server_optimizer.name = "sgd";
  EXPECT_THROW(FedOptStrategy(c, 3), StrategyConfigError);
  EXPECT_THROW(FedOptStrategy(base_config(), 0), StrategyConfigError);
}

}  // namespace
}  // namespace fedlora::coordinator
