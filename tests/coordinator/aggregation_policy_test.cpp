// Weighting and divisor: FedAvg (McMahan et al. 2017), uniform mean, and DP-FedAvg's fixed
// denominator (McMahan et al. 2018), each against hand-computed numbers.
#include <gtest/gtest.h>

#include <cmath>

#include "coordinator/strategy/aggregation_policy.h"
#include "coordinator/strategy/client_fit_config.h"
#include "coordinator/strategy/errors.h"
#include "tests/support/weighted_upload.h"

namespace fedlora::coordinator {
namespace {

Eigen::VectorXf vec(std::initializer_list<float> v) {
  Eigen::VectorXf out(static_cast<Eigen::Index>(v.size()));
  Eigen::Index i = 0;
  for (float x : v) out[i++] = x;
  return out;
}

// The two clients used throughout:
//   client 1: Δ1 = [1, 2, −1],   n1 = 1 example
//   client 2: Δ2 = [3, −2, 0.5], n2 = 3 examples
// in a round configured for K = 4 clients (two dropped out).
UpdateAggregate two_clients(const AggregationPolicy& policy) {
  Aggregator agg(3, 4);
  agg.add_upload(1, test::weighted(vec({1, 2, -1}), policy.client_weight(1)), policy.client_weight(1));
  agg.add_upload(2, test::weighted(vec({3, -2, 0.5f}), policy.client_weight(3)), policy.client_weight(3));
  return agg.aggregate();
}

TEST(AggregationPolicy, ExampleWeightedFedAvg) {
  // Σ nΔ = [1 + 9, 2 − 6, −1 + 1.5] = [10, −4, 0.5]; Σ n = 4; Δ̄ = [2.5, −1, 0.125].
  const auto policy = AggregationPolicy::example_weighted();
  EXPECT_EQ(policy.client_weight(1), 1.0);
  EXPECT_EQ(policy.client_weight(3), 3.0);
  const UpdateAggregate a = two_clients(policy);
  EXPECT_DOUBLE_EQ(policy.divisor(a), 4.0);
  const Eigen::VectorXd d = policy.pseudo_gradient(a);
  EXPECT_DOUBLE_EQ(d[0], 2.5);
  EXPECT_DOUBLE_EQ(d[1], -1.0);
  EXPECT_DOUBLE_EQ(d[2], 0.125);
}

TEST(AggregationPolicy, UniformMean) {
  // ΣΔ = [4, 0, −0.5]; 2 contributors; Δ̄ = [2, 0, −0.25].
  const auto policy = AggregationPolicy::uniform();
  EXPECT_EQ(policy.client_weight(1), 1.0);
  EXPECT_EQ(policy.client_weight(3), 1.0);
  const UpdateAggregate a = two_clients(policy);
  EXPECT_DOUBLE_EQ(policy.divisor(a), 2.0);
  const Eigen::VectorXd d = policy.pseudo_gradient(a);
  EXPECT_DOUBLE_EQ(d[0], 2.0);
  EXPECT_DOUBLE_EQ(d[1], 0.0);
  EXPECT_DOUBLE_EQ(d[2], -0.25);
}

TEST(AggregationPolicy, FixedDenominatorUniformDividesByExpectedCohort) {
  // ΣΔ = [4, 0, −0.5] divided by K = 4 (not by the 2 survivors): Δ̄ = [1, 0, −0.125].
  const auto policy = AggregationPolicy::fixed_denominator_uniform();
  const UpdateAggregate a = two_clients(policy);
  EXPECT_DOUBLE_EQ(policy.divisor(a), 4.0);
  const Eigen::VectorXd d = policy.pseudo_gradient(a);
  EXPECT_DOUBLE_EQ(d[0], 1.0);
  EXPECT_DOUBLE_EQ(d[1], 0.0);
  EXPECT_DOUBLE_EQ(d[2], -0.125);
}

TEST(AggregationPolicy, FixedDenominatorCappedWeights) {
  // ŵ = 2: w1 = min(1/2, 1) = 0.5, w2 = min(3/2, 1) = 1.
  // Σ wΔ = [0.5 + 3, 1 − 2, −0.5 + 0.5] = [3.5, −1, 0]; qW = 3; Δ̄ = [7/6, −1/3, 0].
  const auto policy = AggregationPolicy::fixed_denominator_capped(2.0, 3.0);
  EXPECT_EQ(policy.client_weight(1), 0.5);
  EXPECT_EQ(policy.client_weight(3), 1.0);
  EXPECT_EQ(policy.client_weight(0), 0.0);
  const UpdateAggregate a = two_clients(policy);
  EXPECT_DOUBLE_EQ(a.total_weight, 1.5);
  EXPECT_DOUBLE_EQ(policy.divisor(a), 3.0);
  const Eigen::VectorXd d = policy.pseudo_gradient(a);
  EXPECT_DOUBLE_EQ(d[0], 7.0 / 6.0);
  EXPECT_DOUBLE_EQ(d[1], -1.0 / 3.0);
  EXPECT_DOUBLE_EQ(d[2], 0.0);
}

TEST(AggregationPolicy, FixedDenominatorAcceptsARoundWithNoSurvivors) {
  // Σ over nobody is 0 and the divisor stays K: Δ̄ = 0 (the strategy's min_contributors
  // decides whether such a round is applied).
  UpdateAggregate empty{Eigen::VectorXd::Zero(3), 0.0, 0, 4};
  EXPECT_EQ(AggregationPolicy::fixed_denominator_uniform().pseudo_gradient(empty),
            Eigen::VectorXd::Zero(3));
}

TEST(AggregationPolicy, MeanOfNobodyIsAnError) {
  UpdateAggregate empty{Eigen::VectorXd::Zero(3), 0.0, 0, 4};
  EXPECT_THROW(AggregationPolicy::example_weighted().divisor(empty), InvalidAggregateError);
  EXPECT_THROW(AggregationPolicy::uniform().divisor(empty), InvalidAggregateError);
  // Contributors that all had zero examples: weighted mean undefined.
  UpdateAggregate zero_weight{Eigen::VectorXd::Zero(3), 0.0, 2, 4};
  EXPECT_THROW(AggregationPolicy::example_weighted().divisor(zero_weight), InvalidAggregateError);
}

TEST(AggregationPolicy, UniformRejectsNonUnitWeights) {
  // Clients that uploaded with example weights (Σ w = 4) under a uniform policy.
  UpdateAggregate a{Eigen::VectorXd::Ones(3), 4.0, 2, 4};
  EXPECT_THROW(AggregationPolicy::uniform().divisor(a), InvalidAggregateError);
  EXPECT_THROW(AggregationPolicy::fixed_denominator_uniform().divisor(a), InvalidAggregateError);
}

TEST(AggregationPolicy, RejectsInvalidConfigAndInputs) {
  EXPECT_THROW(AggregationPolicy::fixed_denominator_capped(0.0, 3.0), StrategyConfigError);
  EXPECT_THROW(AggregationPolicy::fixed_denominator_capped(2.0, -1.0), StrategyConfigError);
  EXPECT_THROW(AggregationPolicy::fixed_denominator_capped(std::nan(""), 3.0), StrategyConfigError);
  EXPECT_THROW(AggregationPolicy::example_weighted().client_weight(-1), StrategyConfigError);
  UpdateAggregate bad{Eigen::VectorXd::Constant(3, std::nan("")), 1.0, 1, 4};
  EXPECT_THROW(AggregationPolicy::example_weighted().pseudo_gradient(bad), InvalidAggregateError);
}

TEST(ClientFitConfig, WeightsMatchPolicyAndFedProxValidates) {
  ClientFitConfig c;
  c.weighting = Weighting::kCappedExampleCount;
  c.weight_cap_examples = 4.0;
  EXPECT_EQ(c.weight(1), 0.25);
  EXPECT_EQ(c.weight(10), 1.0);
  c.weight_cap_examples = 0.0;
  EXPECT_THROW(c.weight(1), StrategyConfigError);
  c.weighting = Weighting::kExampleCount;
  EXPECT_EQ(c.weight(7), 7.0);

  EXPECT_NO_THROW(FedProxConfig{0.01}.validate());
  EXPECT_NO_THROW(FedProxConfig{0.0}.validate());
  EXPECT_THROW(FedProxConfig{-0.1}.validate(), StrategyConfigError);
  EXPECT_THROW(FedProxConfig{std::nan("")}.validate(), StrategyConfigError);
}

}  // namespace
}  // namespace fedlora::coordinator
