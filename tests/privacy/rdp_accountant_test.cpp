// Composition: heterogeneous steps add up per order; the user-level accountant is the
// Poisson-subsampled Gaussian with q = cohort / population, one step per round.
#include "privacy/accounting/rdp_accountant.h"

#include <gtest/gtest.h>

#include <cmath>

#include "privacy/accounting/user_level_accountant.h"
#include "privacy/errors.h"

namespace fedlora::privacy {
namespace {

TEST(RdpAccountant, HeterogeneousStepsComposeAdditively) {
  const auto orders = default_orders();
  RdpAccountant acc(orders);
  acc.compose_poisson_gaussian(0.01, 1.1, 100);
  acc.compose_poisson_gaussian(0.05, 2.0, 7);
  acc.compose_gaussian(20.0, 2);
  const auto a = compute_rdp(0.01, 1.1, 100, orders);
  const auto b = compute_rdp(0.05, 2.0, 7, orders);
  for (std::size_t i = 0; i < orders.size(); ++i) {
    const double expected = a[i] + b[i] + 2 * orders[i] / (2 * 400.0);
    EXPECT_NEAR(acc.rdp()[i], expected, expected * 1e-14);
  }
  // Same-parameter steps in pieces equal one block.
  RdpAccountant pieces(orders), block(orders);
  for (int i = 0; i < 10; ++i) pieces.compose_poisson_gaussian(0.02, 1.3, 30);
  block.compose_poisson_gaussian(0.02, 1.3, 300);
  EXPECT_NEAR(pieces.epsilon(1e-5).epsilon, block.epsilon(1e-5).epsilon, 1e-12);
}

TEST(RdpAccountant, StartsAtZeroAndWhatIfDoesNotMutate) {
  RdpAccountant acc;
  EXPECT_EQ(acc.epsilon(1e-5).epsilon, 0.0);
  const RdpAccountant more = acc.with_poisson_gaussian(0.1, 1.0, 10);
  EXPECT_EQ(acc.epsilon(1e-5).epsilon, 0.0);
  EXPECT_GT(more.epsilon(1e-5).epsilon, 0.0);
}

TEST(RdpAccountant, FromStateValidates) {
  EXPECT_THROW(RdpAccountant::from_state({2.0, 3.0}, {0.1}), InvalidPrivacyParameter);
  EXPECT_THROW(RdpAccountant::from_state({2.0}, {-0.1}), InvalidPrivacyParameter);
  EXPECT_THROW(RdpAccountant::from_state({2.0}, {std::nan("")}), InvalidPrivacyParameter);
  EXPECT_THROW(RdpAccountant::from_state({0.9}, {0.1}), InvalidPrivacyParameter);
  const auto acc = RdpAccountant::from_state({2.0, 4.0}, {0.5, 1.0});
  EXPECT_EQ(acc.rdp()[1], 1.0);
}

TEST(ComposedNoiseMultiplier, InverseSquareSum) {
  const double zs[] = {1.0, 2.0, 2.0};
  EXPECT_NEAR(composed_noise_multiplier(zs), 1.0 / std::sqrt(1.0 + 0.25 + 0.25), 1e-15);
  const double bad[] = {1.0, 0.0};
  EXPECT_THROW(composed_noise_multiplier(bad), InvalidPrivacyParameter);
}

TEST(UserLevelAccountant, RoundIsPoissonGaussianWithCohortOverPopulation) {
  const auto orders = default_orders();
  UserLevelAccountant user(10000, 1e-6, orders);
  for (int r = 0; r < 50; ++r) user.record_round(100, 1.2);
  RdpAccountant reference(orders);
  reference.compose_poisson_gaussian(0.01, 1.2, 50);
  EXPECT_EQ(user.rounds(), 50);
  EXPECT_NEAR(user.epsilon().epsilon, reference.epsilon(1e-6).epsilon, 1e-12);

  const auto restored = UserLevelAccountant::from_state(
      10000, 1e-6, orders, {user.accountant().rdp().begin(), user.accountant().rdp().end()}, 50);
  EXPECT_EQ(restored.epsilon().epsilon, user.epsilon().epsilon);
  EXPECT_EQ(restored.rounds(), 50);
}

TEST(UserLevelAccountant, RejectsBadRounds) {
  UserLevelAccountant user(100, 1e-4);
  EXPECT_THROW(user.record_round(0, 1.0), InvalidPrivacyParameter);
  EXPECT_THROW(user.record_round(101, 1.0), InvalidPrivacyParameter);
  EXPECT_THROW(UserLevelAccountant(0, 1e-4), InvalidPrivacyParameter);
  EXPECT_THROW(UserLevelAccountant(100, 0.0), InvalidPrivacyParameter);
}

}  // namespace
}  // namespace fedlora::privacy
