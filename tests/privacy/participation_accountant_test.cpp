// ε against the coordinator: per-user Gaussian composition at q = 1. Reference values come
// from an independent mpmath computation (tests/privacy/reference/coordinator_epsilon_mpmath.py):
// the RDP conversion of Balle et al. 2020 Thm 21 over the default orders, and the analytic
// Gaussian ε by 200-step bisection at 30 digits.
#include "privacy/accounting/participation_accountant.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <vector>

#include "privacy/accounting/analytic_gaussian.h"
#include "privacy/accounting/epsilon_by_adversary.h"
#include "privacy/accounting/user_level_accountant.h"
#include "privacy/errors.h"

namespace fedlora::privacy {
namespace {

const double kProjectDelta = std::pow(247.0, -1.1);  // δ = 247^−1.1 ≈ 2.3336e-3

TEST(ParticipationEpsilon, ProjectConfigMatchesReference) {
  // z = 1.5: the expected 16 participations (q·T = 0.40·40) and all 40 rounds.
  const auto orders = default_orders();
  const ParticipationEpsilon e16 = gaussian_participation_epsilon(16, 1.5, kProjectDelta, orders);
  EXPECT_NEAR(e16.rdp.epsilon, 11.6093112602573, 1e-9);
  EXPECT_NEAR(e16.rdp.optimal_order, 2.2, 1e-12);
  EXPECT_NEAR(e16.exact, 10.4241306104781, 1e-9);
  const ParticipationEpsilon e40 = gaussian_participation_epsilon(40, 1.5, kProjectDelta, orders);
  EXPECT_NEAR(e40.rdp.epsilon, 22.0297454155195, 1e-9);
  EXPECT_NEAR(e40.exact, 20.0568428893756, 1e-9);
  const ParticipationEpsilon e1 = gaussian_participation_epsilon(1, 1.5, kProjectDelta, orders);
  EXPECT_NEAR(e1.rdp.epsilon, 1.98928018206320, 1e-9);
  EXPECT_NEAR(e1.exact, 1.72121459481842, 1e-9);
  EXPECT_DOUBLE_EQ(e16.sum_inverse_sigma2, 16 / 2.25);
}

TEST(ParticipationAccountant, HeterogeneousSigmaSumsPerUser) {
  ParticipationAccountant acc(kProjectDelta);
  const std::vector<std::uint64_t> r1{1, 2, 3}, r2{2, 3}, r3{3};
  acc.record_round(r1, 1.0);  // 1/σ² = 1
  acc.record_round(r2, 2.0);  // 0.25
  acc.record_round(r3, 0.5);  // 4
  EXPECT_EQ(acc.rounds(), 3);
  EXPECT_EQ(acc.user_count(), 3u);
  EXPECT_DOUBLE_EQ(acc.user(1)->sum_inverse_sigma2, 1.0);
  EXPECT_DOUBLE_EQ(acc.user(2)->sum_inverse_sigma2, 1.25);
  EXPECT_DOUBLE_EQ(acc.user(3)->sum_inverse_sigma2, 5.25);
  EXPECT_EQ(acc.user(3)->participations, 3);
  EXPECT_FALSE(acc.user(4).has_value());

  const CoordinatorEpsilon c = acc.epsilon();
  ASSERT_TRUE(c.worst_user_id.has_value());
  EXPECT_EQ(*c.worst_user_id, 3u);
  EXPECT_EQ(c.worst_user.participations, 3.0);
  EXPECT_DOUBLE_EQ(c.worst_user.sum_inverse_sigma2, 5.25);
  EXPECT_DOUBLE_EQ(c.worst_user.exact, analytic_gaussian_epsilon(std::sqrt(5.25), kProjectDelta));
  // RDP curve of the composition: α·5.25/2 at every order.
  std::vector<double> rdp;
  for (double a : default_orders()) rdp.push_back(a * 5.25 / 2);
  EXPECT_DOUBLE_EQ(c.worst_user.rdp.epsilon,
                   epsilon_from_rdp(default_orders(), rdp, kProjectDelta).epsilon);
  // Worst case without cap: all three rounds, s = 5.25 too.
  EXPECT_DOUBLE_EQ(c.worst_case.sum_inverse_sigma2, 5.25);
  EXPECT_EQ(c.worst_case.participations, 3.0);
  EXPECT_EQ(c.max_participations_seen, 3);
}

TEST(ParticipationAccountant, WorstCaseWithCapTakesTheLeastNoisyRounds) {
  ParticipationAccountant acc(kProjectDelta, /*max_participations=*/2);
  const std::vector<std::uint64_t> a{10}, b{11}, c{12};
  acc.record_round(a, 1.0);  // 1
  acc.record_round(b, 2.0);  // 0.25
  acc.record_round(c, 0.5);  // 4
  const CoordinatorEpsilon e = acc.epsilon();
  EXPECT_DOUBLE_EQ(e.worst_case.sum_inverse_sigma2, 5.0);  // 4 + 1: the two smallest σ
  EXPECT_EQ(e.worst_case.participations, 2.0);
  EXPECT_EQ(*e.worst_user_id, 12u);
  EXPECT_EQ(e.max_participations_seen, 1);
}

TEST(ParticipationAccountant, MostParticipationsIsNotAlwaysTheWorstUser) {
  ParticipationAccountant acc(1e-5);
  const std::vector<std::uint64_t> a{1}, b{2};
  acc.record_round(a, 0.5);   // user 1: s = 4
  acc.record_round(b, 10.0);  // user 2: s = 0.01
  acc.record_round(b, 10.0);  // user 2: s = 0.02, two participations
  const CoordinatorEpsilon e = acc.epsilon();
  EXPECT_EQ(*e.worst_user_id, 1u);
  EXPECT_EQ(e.worst_user.participations, 1.0);
  EXPECT_EQ(e.max_participations_seen, 2);
}

TEST(ParticipationAccountant, ProjectConfigWorstCaseOverFortyRounds) {
  ParticipationAccountant acc(kProjectDelta);
  for (int r = 0; r < 40; ++r) {
    std::vector<std::uint64_t> cohort;
    for (std::uint64_t u = 0; u < 247; ++u) {
      if ((u + static_cast<std::uint64_t>(r)) % 5 < 2 || u == 7) cohort.push_back(u);
    }
    acc.record_round(cohort, 1.5);
  }
  const CoordinatorEpsilon e = acc.epsilon();
  EXPECT_EQ(*e.worst_user_id, 7u);  // in every round
  EXPECT_EQ(e.worst_user.participations, 40.0);
  EXPECT_NEAR(e.worst_user.rdp.epsilon, 22.0297454155195, 1e-9);
  EXPECT_NEAR(e.worst_case.exact, 20.0568428893756, 1e-9);
  EXPECT_EQ(acc.user(0)->participations, 16);  // (u + r) mod 5 < 2 in 16 of 40 rounds
  EXPECT_NEAR(acc.user(0)->sum_inverse_sigma2, 16 / 2.25, 1e-12);
}

TEST(ParticipationAccountant, EmptyAccountantSpendsNothing) {
  ParticipationAccountant acc(1e-5, 3);
  const CoordinatorEpsilon e = acc.epsilon();
  EXPECT_EQ(e.worst_user.rdp.epsilon, 0.0);
  EXPECT_EQ(e.worst_user.exact, 0.0);
  EXPECT_FALSE(e.worst_user_id.has_value());
  EXPECT_EQ(e.worst_case.exact, 0.0);
  acc.record_round({}, 1.0);  // a round nobody contributed to still bounds the worst case
  EXPECT_EQ(acc.epsilon().worst_case.participations, 1.0);
  EXPECT_GT(acc.epsilon().worst_case.exact, 0.0);
}

TEST(ParticipationAccountant, ZeroNoiseRoundMakesEpsilonInfinite) {
  ParticipationAccountant acc(1e-5);
  const std::vector<std::uint64_t> a{1};
  acc.record_round(a, 0.0);  // e.g. central noise: the coordinator saw the raw sum
  const CoordinatorEpsilon e = acc.epsilon();
  EXPECT_TRUE(std::isinf(e.worst_user.rdp.epsilon));
  EXPECT_TRUE(std::isinf(e.worst_user.exact));
  const auto restored = ParticipationAccountant::from_state(acc.state());
  EXPECT_TRUE(std::isinf(restored.epsilon().worst_user.exact));
}

TEST(ParticipationAccountant, CapIsEnforcedAtomically) {
  ParticipationAccountant acc(1e-5, 1);
  const std::vector<std::uint64_t> first{1, 2};
  acc.record_round(first, 1.0);
  EXPECT_FALSE(acc.can_participate(1));
  EXPECT_TRUE(acc.can_participate(3));
  const std::vector<std::uint64_t> again{3, 1};
  EXPECT_THROW(acc.record_round(again, 1.0), PrivacyError);
  EXPECT_EQ(acc.rounds(), 1);             // nothing recorded
  EXPECT_FALSE(acc.user(3).has_value());  // not even the valid participant
}

TEST(ParticipationAccountant, RejectsBadInput) {
  EXPECT_THROW(ParticipationAccountant(0.0), InvalidPrivacyParameter);
  EXPECT_THROW(ParticipationAccountant(1e-5, -1), InvalidPrivacyParameter);
  EXPECT_THROW(ParticipationAccountant(1e-5, 0, {0.5}), InvalidPrivacyParameter);
  ParticipationAccountant acc(1e-5);
  const std::vector<std::uint64_t> dup{4, 9, 4};
  EXPECT_THROW(acc.record_round(dup, 1.0), InvalidPrivacyParameter);
  const std::vector<std::uint64_t> one{4};
  EXPECT_THROW(acc.record_round(one, -1.0), InvalidPrivacyParameter);
  EXPECT_THROW(acc.record_round(one, std::nan("")), InvalidPrivacyParameter);
  EXPECT_EQ(acc.rounds(), 0);
  EXPECT_THROW(gaussian_participation_epsilon(-1, 1.5, 1e-5, default_orders()),
               InvalidPrivacyParameter);
  EXPECT_THROW(gaussian_participation_epsilon(3, -1.0, 1e-5, default_orders()),
               InvalidPrivacyParameter);
  EXPECT_TRUE(std::isinf(gaussian_participation_epsilon(3, 0.0, 1e-5, default_orders()).exact));
  EXPECT_EQ(gaussian_participation_epsilon(0, 0.0, 1e-5, default_orders()).exact, 0.0);
}

TEST(ParticipationAccountant, StateRoundTrips) {
  ParticipationAccountant acc(kProjectDelta, 5);
  const std::vector<std::uint64_t> r1{30, 10, 20}, r2{20, 40};
  acc.record_round(r1, 1.2);
  acc.record_round(r2, 0.9);
  const ParticipationAccountantState s = acc.state();
  ASSERT_EQ(s.users.size(), 4u);
  EXPECT_EQ(s.users[0].user_id, 10u);  // sorted by id
  EXPECT_EQ(s.users[3].user_id, 40u);
  ParticipationAccountant back = ParticipationAccountant::from_state(s);
  EXPECT_EQ(back.rounds(), 2);
  EXPECT_EQ(back.max_participations(), 5);
  EXPECT_EQ(*back.epsilon().worst_user_id, 20u);
  EXPECT_DOUBLE_EQ(back.epsilon().worst_user.exact, acc.epsilon().worst_user.exact);
  EXPECT_DOUBLE_EQ(back.epsilon().worst_case.rdp.epsilon, acc.epsilon().worst_case.rdp.epsilon);
  // Recording continues where it left off.
  back.record_round(r2, 0.9);
  EXPECT_EQ(back.user(20)->participations, 3);
}

TEST(ParticipationAccountant, RestoreRejectsCorruptState) {
  ParticipationAccountant acc(1e-5, 3);
  const std::vector<std::uint64_t> r1{1, 2}, r2{2};
  acc.record_round(r1, 1.0);  // 1
  acc.record_round(r2, 0.5);  // 4
  const ParticipationAccountantState good = acc.state();
  EXPECT_NO_THROW(ParticipationAccountant::from_state(good));
  auto expect_bad = [&](auto mutate) {
    ParticipationAccountantState s = good;
    mutate(s);
    EXPECT_THROW(ParticipationAccountant::from_state(s), InvalidPrivacyParameter);
  };
  expect_bad([](auto& s) { s.delta = 1.5; });
  expect_bad([](auto& s) { s.max_participations = -2; });
  expect_bad([](auto& s) { s.orders.clear(); });
  expect_bad([](auto& s) { s.round_inverse_sigma2[0] = -1.0; });
  expect_bad([](auto& s) { s.round_inverse_sigma2[1] = std::nan(""); });
  expect_bad([](auto& s) { s.users.push_back(s.users[0]); });        // duplicate id
  expect_bad([](auto& s) { s.users[0].participations = 0; });
  expect_bad([](auto& s) { s.users[1].participations = 3; });        // > 2 rounds
  expect_bad([](auto& s) { s.max_participations = 1; });             // user 2 has 2
  expect_bad([](auto& s) { s.users[0].sum_inverse_sigma2 = 4.5; });  // one round gives ≤ 4
  expect_bad([](auto& s) { s.users[0].sum_inverse_sigma2 = 0.5; });  // one round gives ≥ 1
  expect_bad([](auto& s) { s.users[1].sum_inverse_sigma2 = std::nan(""); });
  expect_bad([](auto& s) {
    s.users[0].sum_inverse_sigma2 = std::numeric_limits<double>::infinity();
  });
}

TEST(ParticipationAccountant, HandlesAQuarterMillionUsers) {
  ParticipationAccountant acc(1e-6);
  constexpr std::uint64_t kUsers = 250000;
  for (int r = 0; r < 6; ++r) {
    std::vector<std::uint64_t> cohort;
    for (std::uint64_t u = static_cast<std::uint64_t>(r) % 2; u < kUsers; u += 2) {
      cohort.push_back(u * 0x9E3779B97F4A7C15ull);  // spread ids over the 64-bit range
    }
    acc.record_round(cohort, 2.0);
  }
  EXPECT_EQ(acc.user_count(), kUsers);
  EXPECT_EQ(acc.user(0)->participations, 3);
  EXPECT_EQ(acc.user(1 * 0x9E3779B97F4A7C15ull)->participations, 3);
  EXPECT_EQ(acc.epsilon().max_participations_seen, 3);
  EXPECT_EQ(acc.state().users.size(), kUsers);
}

TEST(EpsilonByAdversary, NamesBothFiguresOfOneRun) {
  UserLevelAccountant released(247, kProjectDelta);
  ParticipationAccountant coordinator(kProjectDelta);
  for (int r = 0; r < 40; ++r) {
    released.record_round(99, 1.5);
    const std::vector<std::uint64_t> everyone_once{static_cast<std::uint64_t>(r)};
    coordinator.record_round(everyone_once, 1.5);
  }
  const EpsilonByAdversary e = epsilon_by_adversary(released, coordinator);
  EXPECT_EQ(e.delta, kProjectDelta);
  EXPECT_DOUBLE_EQ(e.released_model.epsilon, released.epsilon().epsilon);
  EXPECT_NEAR(e.coordinator.worst_user.exact, 1.72121459481842, 1e-9);  // one participation
  EXPECT_NEAR(e.coordinator.worst_case.rdp.epsilon, 22.0297454155195, 1e-9);
  // Amplification helps only against the released-model adversary.
  EXPECT_LT(e.released_model.epsilon, e.coordinator.worst_case.rdp.epsilon);

  ParticipationAccountant other_delta(1e-5);
  EXPECT_THROW(epsilon_by_adversary(released, other_delta), InvalidPrivacyParameter);
  ParticipationAccountant fewer_rounds(kProjectDelta);
  EXPECT_THROW(epsilon_by_adversary(released, fewer_rounds), InvalidPrivacyParameter);
}

}  // namespace
}  // namespace fedlora::privacy
