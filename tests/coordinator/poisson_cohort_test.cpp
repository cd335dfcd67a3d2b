// Poisson cohorts as FedOptStrategy draws them for user-level DP: the released-model ε
// assumes each user is included independently with probability q = K/N, every round.
#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <numeric>
#include <vector>

#include "coordinator/strategy/errors.h"
#include "coordinator/strategy/fedopt_strategy.h"
#include "privacy/noise/noise_source.h"

namespace fedlora::coordinator {
namespace {

StrategyConfig poisson_config(std::size_t k, std::int64_t population) {
  StrategyConfig c;
  c.cohort_size = k;
  c.sampling = CohortSampling::kPoisson;
  c.population = population;
  c.aggregation = AggregationPolicy::fixed_denominator_uniform();
  c.server_optimizer.name = "fedavg";
  c.sampling_source = std::make_shared<privacy::NoiseSource>(privacy::NoiseSource::from_os_entropy());
  return c;
}

TEST(PoissonCohort, InclusionFrequencyIsQIndependentlyAcrossUsersAndRounds) {
  const int n = 200, rounds = 400;
  const std::size_t k = 50;  // q = 0.25
  const double q = 0.25;
  FedOptStrategy strategy(poisson_config(k, n), 4);
  std::vector<std::uint64_t> available(n);
  std::iota(available.begin(), available.end(), 0);
  std::vector<std::vector<char>> in(rounds, std::vector<char>(n, 0));
  for (int r = 0; r < rounds; ++r)
    for (auto id : strategy.configure_fit(static_cast<std::uint64_t>(r), available, {}).cohort) in[r][id] = 1;

  // Per user: count ~ Binomial(rounds, q); 5 sd covers all 200 users with overwhelming probability.
  const double mean = rounds * q, sd = std::sqrt(rounds * q * (1 - q));
  double total = 0;
  for (int u = 0; u < n; ++u) {
    int c = 0;
    for (int r = 0; r < rounds; ++r) c += in[r][u];
    EXPECT_NEAR(c, mean, 5 * sd) << "user " << u;
    total += c;
  }
  // Overall rate: Binomial(n·rounds, q).
  EXPECT_NEAR(total / (n * rounds), q, 5 * std::sqrt(q * (1 - q) / (n * rounds)));

  // Independence across users: joint inclusion of neighbours u, u+1 in the same round ≈ q².
  double joint_users = 0;
  for (int r = 0; r < rounds; ++r)
    for (int u = 0; u + 1 < n; u += 2) joint_users += in[r][u] && in[r][u + 1];
  const double m_users = rounds * (n / 2.0);
  EXPECT_NEAR(joint_users / m_users, q * q, 5 * std::sqrt(q * q * (1 - q * q) / m_users));
  // Independence across rounds: a user in round r and r+1 ≈ q² (not the same cohort again).
  double joint_rounds = 0;
  for (int r = 0; r + 1 < rounds; r += 2)
    for (int u = 0; u < n; ++u) joint_rounds += in[r][u] && in[r + 1][u];
  const double m_rounds = (rounds / 2.0) * n;
  EXPECT_NEAR(joint_rounds / m_rounds, q * q, 5 * std::sqrt(q * q * (1 - q * q) / m_rounds));
}

TEST(PoissonCohort, IneligibleUsersAreNeverDrawnAndQUsesThePopulation) {
  // q = K / population = 10/20 even though only 12 are available now.
  FedOptStrategy strategy(poisson_config(10, 20), 4);
  std::vector<std::uint64_t> available(12);
  std::iota(available.begin(), available.end(), 0);
  const std::unordered_set<std::uint64_t> ineligible{0, 1, 2};
  int drawn = 0;
  const int rounds = 2000;
  for (int r = 0; r < rounds; ++r)
    for (auto id : strategy.configure_fit(static_cast<std::uint64_t>(r), available, ineligible).cohort) {
      ASSERT_FALSE(ineligible.contains(id));
      ++drawn;
    }
  const double m = 9.0 * rounds;  // 9 eligible users, each with q = 0.5
  EXPECT_NEAR(drawn / m, 0.5, 5 * std::sqrt(0.25 / m));
}

TEST(PoissonCohort, RefusedWithoutACsprngOrWithOverSelection) {
  auto c = poisson_config(4, 10);
  c.sampling_source.reset();
  EXPECT_THROW(FedOptStrategy(c, 4), StrategyConfigError);
  auto d = poisson_config(4, 10);
  d.over_selection = 1.3;
  EXPECT_THROW(FedOptStrategy(d, 4), StrategyConfigError);
}

}  // namespace
}  // namespace fedlora::coordinator
