// UserDpServer as the coordinator really runs it (coordinator/round/user_dp_server.cpp), not
// the reference privacy::finalize_user_dp_average: the noise it adds to a known sum, the
// instructions it sends, the participation cap, and ε against the coordinator.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <numeric>
#include <vector>

#include "coordinator/round/user_dp_server.h"
#include "privacy/accounting/rdp.h"
#include "privacy/errors.h"

namespace fedlora::coordinator {
namespace {

UserDpSettings central(double z, double clip, int64_t k, int64_t population) {
  UserDpSettings s;
  s.mode = privacy::NoiseMode::kCentral;
  s.noise_multiplier = z;
  s.l2_norm_clip = clip;
  s.expected_cohort = k;
  s.population = population;
  s.delta = 1e-5;
  return s;
}

UpdateAggregate known_sum(Eigen::Index d, int contributors, int k) {
  UpdateAggregate a;
  a.weighted_sum = Eigen::VectorXd::LinSpaced(d, -1.0, 1.0);  // Σ Δ_i, known exactly
  a.total_weight = contributors;
  a.num_contributors = contributors;
  a.expected_cohort_size = k;
  return a;
}

// Σ (x_i − μ_i)² / σ² over d coordinates is χ²_d: mean d, sd √(2d). Six sd either side is a
// false-failure probability below 1e-8 per trial.
void expect_noise_variance(const Eigen::VectorXd& noised, const Eigen::VectorXd& truth, double sigma) {
  const double d = static_cast<double>(truth.size());
  const double chi2 = (noised - truth).squaredNorm() / (sigma * sigma);
  EXPECT_NEAR(chi2, d, 6.0 * std::sqrt(2.0 * d)) << "empirical variance " << (noised - truth).squaredNorm() / d
                                                 << " vs σ²S² = " << sigma * sigma;
}

TEST(UserDpServer, CentralNoiseOnAKnownSumHasVarianceSigmaSquaredSSquared) {
  // z = 1.1, S = 0.5: the sum must carry N(0, (zS)²) per coordinate, i.e. σ²S²/K² on the mean.
  const double z = 1.1, clip = 0.5;
  const Eigen::Index d = 4000;
  UserDpServer server(central(z, clip, 4, 100), privacy::NoiseSource::from_seed(7, {1}), d);
  const auto in = server.instructions(4, 1);
  EXPECT_EQ(in.update.mode, privacy::NoiseMode::kCentral);
  EXPECT_DOUBLE_EQ(in.update.l2_norm_clip, clip);
  // Many trials: each one's χ² is in range, and the pooled variance is within 1%.
  double pooled = 0;
  const int trials = 25;
  for (int t = 0; t < trials; ++t) {
    auto agg = known_sum(d, 4, 4);
    const Eigen::VectorXd truth = agg.weighted_sum;
    const std::vector<std::uint64_t> who{1, 2, 3, 4};
    server.finalize(agg, in, std::nullopt, who);
    expect_noise_variance(agg.weighted_sum, truth, z * clip);
    pooled += (agg.weighted_sum - truth).squaredNorm();
    // The divisor is the strategy's job: the sum is still a sum, and the weights are untouched.
    EXPECT_EQ(agg.total_weight, 4.0);
  }
  const double var = pooled / (trials * static_cast<double>(d));
  EXPECT_NEAR(var / (z * clip * z * clip), 1.0, 6.0 * std::sqrt(2.0 / (trials * static_cast<double>(d))));
}

TEST(UserDpServer, DistributedModeAddsNothingCentrallyAndCalibratesDevicesToHonestSurvivors) {
  auto s = central(1.2, 0.3, 10, 1000);
  s.mode = privacy::NoiseMode::kDistributed;
  s.corrupt_fraction = 0.2;
  UserDpServer server(s, privacy::NoiseSource::from_seed(7, {2}), 50);
  // Cohort 10, t = 6: a_max = ⌊0.2·10⌋ = 2, m_min = t + a_max = 8, per-device σS/√(m_min − a_max)
  // = 1.2·0.3/√6 by hand.
  const auto in = server.instructions(10, 6);
  EXPECT_EQ(in.update.max_corrupt_clients, 2);
  EXPECT_EQ(in.update.survivor_floor(), 8);
  EXPECT_NEAR(privacy::per_device_noise_stddev_honest(in.update.noise_multiplier, in.update.l2_norm_clip,
                                                      in.update.survivor_floor(), in.update.max_corrupt_clients),
              1.2 * 0.3 / std::sqrt(6.0), 1e-15);
  // Six honest survivors each adding that std sum to exactly σ²S² of variance.
  EXPECT_NEAR(6 * std::pow(1.2 * 0.3 / std::sqrt(6.0), 2), std::pow(1.2 * 0.3, 2), 1e-15);
  // The coordinator adds nothing to a sum that reached the floor...
  auto agg = known_sum(50, 8, 10);
  const Eigen::VectorXd truth = agg.weighted_sum;
  const std::vector<std::uint64_t> who{1, 2, 3, 4, 5, 6, 7, 8};
  server.finalize(agg, in, std::nullopt, who);
  EXPECT_EQ(agg.weighted_sum, truth);
  // ...and refuses one below it (7 survivors could include 2 colluders: 5 honest < 6).
  auto short_agg = known_sum(50, 7, 10);
  const std::vector<std::uint64_t> seven{1, 2, 3, 4, 5, 6, 7};
  EXPECT_THROW(server.finalize(short_agg, in, std::nullopt, seven), privacy::PrivacyError);
}

TEST(UserDpServer, CountNoiseDefaultIsTheLargerOfKOver20AndZSplitOverHonestSurvivors) {
  auto s = central(1.0, 0.5, 100, 1000);
  s.mode = privacy::NoiseMode::kDistributed;
  s.adaptive_clipping = true;
  // K = 100, z = 1: σ_b = max(100/20, 1) = 5 (Andrew et al. §3); t = 10, no colluders assumed:
  // each device adds 5/√10 to its indicator.
  UserDpServer big(s, privacy::NoiseSource::from_seed(7, {10}), 8);
  const auto in = big.instructions(100, 10);
  EXPECT_TRUE(in.report_clip_indicator);
  EXPECT_NEAR(in.clip_indicator_noise_stddev, 5.0 / std::sqrt(10.0), 1e-12);
  // K = 10, z = 1.5: K/20 = 0.5 < z, so σ_b = 1.5; with 20% colluders of 10, a_max = 2 and
  // m_min = t + a_max = 6: 1.5/√4.
  s.expected_cohort = 10;
  s.noise_multiplier = 1.5;
  s.corrupt_fraction = 0.2;
  UserDpServer small(s, privacy::NoiseSource::from_seed(7, {11}), 8);
  EXPECT_NEAR(small.instructions(10, 4).clip_indicator_noise_stddev, 1.5 / 2.0, 1e-12);
}

TEST(UserDpServer, ASurvivorFloorNearTheCohortLowersEachDevicesNoise) {
  auto s = central(1.5, 0.3, 100, 250);
  s.mode = privacy::NoiseMode::kDistributed;
  s.corrupt_fraction = 0.05;
  s.min_survivors = 70;
  UserDpServer server(s, privacy::NoiseSource::from_seed(7, {12}), 16);
  // Cohort 109, t = 6: a_max = ⌊0.05·109⌋ = 5, m_min = max(70, 6 + 5) = 70, each device adds
  // 1.5·0.3/√65 (instead of 1.5·0.3/√6 at the SecAgg floor).
  const auto in = server.instructions(109, 6);
  EXPECT_EQ(in.update.max_corrupt_clients, 5);
  EXPECT_EQ(in.update.survivor_floor(), 70);
  EXPECT_NEAR(privacy::per_device_noise_stddev_honest(in.update.noise_multiplier, in.update.l2_norm_clip,
                                                      in.update.survivor_floor(), in.update.max_corrupt_clients),
              1.5 * 0.3 / std::sqrt(65.0), 1e-15);
  // A floor below t + a_max is raised to it, never lowered.
  s.min_survivors = 3;
  UserDpServer low(s, privacy::NoiseSource::from_seed(7, {13}), 16);
  EXPECT_EQ(low.instructions(109, 6).update.survivor_floor(), 11);
  // 69 survivors are refused.
  auto agg = known_sum(16, 69, 100);
  std::vector<std::uint64_t> who(69);
  std::iota(who.begin(), who.end(), 1);
  EXPECT_THROW(server.finalize(agg, in, std::nullopt, who), privacy::PrivacyError);
  // Central mode has no survivor floor to set.
  auto c = central(1.0, 1.0, 2, 10);
  c.min_survivors = 2;
  EXPECT_THROW(UserDpServer(c, privacy::NoiseSource::from_seed(7, {14}), 4), privacy::InvalidPrivacyParameter);
}

TEST(UserDpServer, CoordinatorEpsilonIsPlainGaussianCompositionOverActualParticipations) {
  auto s = central(1.5, 1.0, 2, 4);
  s.mode = privacy::NoiseMode::kDistributed;
  UserDpServer server(s, privacy::NoiseSource::from_seed(7, {3}), 8);
  const auto in = server.instructions(2, 2);
  // User 1 takes part in rounds 1, 2 and 4; user 2 in 1 and 3; user 3 in 3 and 4.
  const std::vector<std::vector<std::uint64_t>> rounds{{1, 2}, {1, 4}, {2, 3}, {1, 3}};
  for (const auto& who : rounds) {
    auto agg = known_sum(8, 2, 2);
    server.finalize(agg, in, std::nullopt, who);
  }
  const auto eps = server.epsilon();
  EXPECT_EQ(eps.coordinator.max_participations_seen, 3);
  // Hand composition: RDP of the Gaussian mechanism at sensitivity 1, noise z, is α/(2z²)
  // (Mironov 2017, Prop. 7); three participations add up; ε = min_α RDP + log(1/δ)/(α−1)
  // over the accountant's orders is an upper bound the accountant's tighter conversion may
  // only improve on, and 3·α/(2z²) minimised at the best order is what it must not exceed.
  const auto orders = privacy::default_orders();
  double classic = INFINITY;
  for (double a : orders) classic = std::min(classic, 3 * a / (2 * 1.5 * 1.5) + std::log(1 / 1e-5) / (a - 1));
  const double got = eps.coordinator.worst_user.rdp.epsilon;
  EXPECT_LE(got, classic + 1e-12);
  EXPECT_GT(got, 0.8 * classic);  // the improved conversion gains well under 20% here
  // And it equals a q = 1 subsampled Gaussian of 3 steps through the RDP accountant, which is
  // validated against tf-privacy independently.
  const auto rdp3 = privacy::compute_rdp(1.0, 1.5, 3, orders);
  EXPECT_NEAR(got, privacy::epsilon_from_rdp(orders, rdp3, 1e-5).epsilon, 1e-9);
  // The released-model figure is amplified (q = 2/4) and therefore smaller.
  EXPECT_LT(eps.released_model.epsilon, got);
}

TEST(UserDpServer, CentralNoiseGivesNoGuaranteeAgainstTheCoordinator) {
  UserDpServer server(central(1.0, 1.0, 2, 10), privacy::NoiseSource::from_seed(7, {4}), 4);
  auto agg = known_sum(4, 2, 2);
  const std::vector<std::uint64_t> who{1, 2};
  server.finalize(agg, server.instructions(2, 1), std::nullopt, who);
  EXPECT_TRUE(std::isinf(server.epsilon().coordinator.worst_user.rdp.epsilon));
  EXPECT_TRUE(std::isfinite(server.epsilon().released_model.epsilon));
}

TEST(UserDpServer, ParticipationCapExcludesAUserOnceReached) {
  auto s = central(1.0, 1.0, 2, 10);
  s.mode = privacy::NoiseMode::kDistributed;
  s.max_participations = 2;
  UserDpServer server(s, privacy::NoiseSource::from_seed(7, {5}), 4);
  const auto in = server.instructions(2, 2);
  for (int r = 0; r < 2; ++r) {
    EXPECT_TRUE(server.can_participate(7));
    auto agg = known_sum(4, 2, 2);
    const std::vector<std::uint64_t> who{7, static_cast<std::uint64_t>(10 + r)};
    server.finalize(agg, in, std::nullopt, who);
  }
  EXPECT_FALSE(server.can_participate(7));
  EXPECT_TRUE(server.can_participate(10));
  // The bound is what the cap promises: the worst case is two participations, whatever the rounds.
  const auto orders = privacy::default_orders();
  EXPECT_NEAR(server.epsilon().coordinator.worst_case.rdp.epsilon,
              privacy::epsilon_from_rdp(orders, privacy::compute_rdp(1.0, 1.0, 2, orders), 1e-5).epsilon, 1e-9);
}

TEST(UserDpServer, AbortedRoundIsChargedToTheReleasedModelAccountant) {
  UserDpServer charged(central(1.0, 1.0, 2, 10), privacy::NoiseSource::from_seed(7, {6}), 4);
  const double before = charged.epsilon().released_model.epsilon;
  charged.charge_aborted_round();
  const auto orders = privacy::default_orders();
  EXPECT_GT(charged.epsilon().released_model.epsilon, before);
  EXPECT_NEAR(charged.epsilon().released_model.epsilon,
              privacy::epsilon_from_rdp(orders, privacy::compute_rdp(0.2, 1.0, 1, orders), 1e-5).epsilon, 1e-9);
}

TEST(UserDpServer, DpFtrlAllowsEachUserOncePerTree) {
  auto s = central(2.0, 1.0, 2, 10);
  s.mechanism = UserDpMechanism::kDpFtrl;
  s.ftrl_restart_every = 2;
  UserDpServer server(s, privacy::NoiseSource::from_seed(7, {7}), 4);
  EXPECT_FALSE(server.poisson_cohorts());
  const auto in = server.instructions(2, 1);
  auto agg = known_sum(4, 2, 2);
  const std::vector<std::uint64_t> first{1, 2};
  server.finalize(agg, in, std::nullopt, first);
  EXPECT_FALSE(server.can_participate(1));  // already in this tree
  EXPECT_TRUE(server.can_participate(3));
  auto agg2 = known_sum(4, 2, 2);
  const std::vector<std::uint64_t> second{3, 4};
  server.finalize(agg2, in, std::nullopt, second);
  auto agg3 = known_sum(4, 2, 2);
  const std::vector<std::uint64_t> third{1, 5};  // a new tree: user 1 may come back
  EXPECT_TRUE(server.can_participate(1));
  server.finalize(agg3, in, std::nullopt, third);
  EXPECT_GT(server.epsilon().released_model.epsilon, 0.0);
  EXPECT_TRUE(std::isinf(server.epsilon().coordinator.worst_user.rdp.epsilon));  // central tree noise
}

TEST(UserDpServer, RejectsANonFiniteAggregateAndBadSettings) {
  UserDpServer server(central(1.0, 1.0, 2, 10), privacy::NoiseSource::from_seed(7, {8}), 4);
  auto agg = known_sum(4, 2, 2);
  agg.weighted_sum[1] = NAN;
  const std::vector<std::uint64_t> who{1, 2};
  EXPECT_THROW(server.finalize(agg, server.instructions(2, 1), std::nullopt, who), privacy::NonFiniteValueError);
  auto bad = central(1.0, 1.0, 20, 10);  // K > N
  EXPECT_THROW(UserDpServer(bad, privacy::NoiseSource::from_seed(7, {9}), 4), privacy::InvalidPrivacyParameter);
}

}  // namespace
}  // namespace fedlora::coordinator
