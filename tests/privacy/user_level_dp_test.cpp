// DP-FedAvg noise placement: central σS once, or σS/√t per device so that any t survivors
// carry at least σS in their sum.
#include "privacy/user_dp/user_level_dp.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "privacy/common/l2_clip.h"
#include "privacy/errors.h"

namespace fedlora::privacy {
namespace {

double rms(const std::vector<float>& v) {
  double s = 0;
  for (float x : v) s += static_cast<double>(x) * x;
  return std::sqrt(s / v.size());
}

TEST(UserLevelDp, NoiseStddevFormulas) {
  EXPECT_DOUBLE_EQ(central_noise_stddev(1.2, 0.5), 0.6);
  EXPECT_DOUBLE_EQ(per_device_noise_stddev(1.2, 0.5, 16), 0.15);
  EXPECT_THROW(per_device_noise_stddev(1.0, 1.0, 0), InvalidPrivacyParameter);
  EXPECT_THROW(central_noise_stddev(-1.0, 1.0), InvalidPrivacyParameter);
  EXPECT_THROW(central_noise_stddev(1.0, 0.0), InvalidPrivacyParameter);
}

TEST(UserLevelDp, CentralModeDeviceOnlyClips) {
  UserDpConfig cfg{1.0, 2.0, NoiseMode::kCentral, 1, 10};
  NoiseSource rng = NoiseSource::from_seed(1, {});
  std::vector<float> delta = {3.0f, 4.0f};
  const DeviceUpdateReport rep = privatize_device_update(delta, cfg, rng);
  EXPECT_DOUBLE_EQ(rep.pre_clip_norm, 5.0);
  EXPECT_TRUE(rep.clipped);
  EXPECT_EQ(rep.noise_stddev, 0.0);
  EXPECT_NEAR(delta[0], 0.6f, 1e-6);
  EXPECT_NEAR(delta[1], 0.8f, 1e-6);
}

TEST(UserLevelDp, DistributedNoiseOfThresholdManyDevicesSumsToSigmaS) {
  // t devices each add σS/√t; their sum has std σS (the central amount).
  const double sigma = 1.5, s = 0.4;
  const int t = 9;
  UserDpConfig cfg{s, sigma, NoiseMode::kDistributed, t, 12};
  std::vector<float> sum(100000, 0.0f);
  for (int d = 0; d < t; ++d) {
    NoiseSource rng = NoiseSource::from_seed(5, {static_cast<std::uint64_t>(d)});
    std::vector<float> delta(sum.size(), 0.0f);
    const auto rep = privatize_device_update(delta, cfg, rng);
    EXPECT_NEAR(rep.noise_stddev, sigma * s / 3.0, 1e-15);
    EXPECT_NEAR(rms(delta), sigma * s / 3.0, 0.01 * sigma * s / 3.0);
    for (std::size_t i = 0; i < sum.size(); ++i) sum[i] += delta[i];
  }
  EXPECT_NEAR(rms(sum), sigma * s, 0.01 * sigma * s);
}

TEST(UserLevelDp, FinalizeCentralAddsNoiseThenDividesByExpectedCohort) {
  UserDpConfig cfg{0.5, 2.0, NoiseMode::kCentral, 1, 25};
  NoiseSource rng = NoiseSource::from_seed(6, {});
  std::vector<float> sum(200000, 50.0f);
  finalize_user_dp_average(sum, 3, cfg, rng);  // survivors don't change the divisor
  double mean = 0;
  for (float x : sum) mean += x;
  mean /= sum.size();
  EXPECT_NEAR(mean, 2.0, 0.001);
  std::vector<float> centred(sum.size());
  for (std::size_t i = 0; i < sum.size(); ++i) centred[i] = sum[i] - 2.0f;
  EXPECT_NEAR(rms(centred), 1.0 / 25, 0.01 / 25);  // σS/K
}

TEST(UserLevelDp, FinalizeDistributedRefusesTooFewContributors) {
  UserDpConfig cfg{1.0, 1.0, NoiseMode::kDistributed, 5, 10};
  NoiseSource rng = NoiseSource::from_seed(7, {});
  std::vector<float> sum = {10.0f, 20.0f};
  EXPECT_THROW(finalize_user_dp_average(sum, 4, cfg, rng), PrivacyError);
  finalize_user_dp_average(sum, 5, cfg, rng);  // no server noise in distributed mode
  EXPECT_FLOAT_EQ(sum[0], 1.0f);
  EXPECT_FLOAT_EQ(sum[1], 2.0f);
}

TEST(UserLevelDp, RejectsNonFiniteUpdatesBeforeAnything) {
  UserDpConfig cfg{1.0, 1.0, NoiseMode::kDistributed, 2, 10};
  NoiseSource rng = NoiseSource::from_seed(8, {});
  std::vector<float> delta = {1.0f, INFINITY};
  EXPECT_THROW(privatize_device_update(delta, cfg, rng), NonFiniteValueError);
  EXPECT_EQ(delta[0], 1.0f);
  std::vector<float> sum = {std::nanf(""), 1.0f};
  EXPECT_THROW(finalize_user_dp_average(sum, 5, cfg, rng), NonFiniteValueError);
}

TEST(UserLevelDp, ConfigValidation) {
  EXPECT_THROW((UserDpConfig{1.0, 1.0, NoiseMode::kDistributed, 11, 10}.validate()),
               InvalidPrivacyParameter);
  EXPECT_THROW((UserDpConfig{1.0, 1.0, NoiseMode::kCentral, 1, 0}.validate()),
               InvalidPrivacyParameter);
  EXPECT_NO_THROW((UserDpConfig{1.0, 0.0, NoiseMode::kCentral, 1, 1}.validate()));
}

// Honest-survivor calibration (user_level_dp.h), by hand: t = 10, a_max = 3 → m_min = 13;
// σ = 1.5, S = 2 → per-device std 3/√(13 − 3) = 3/√10 = 0.9486832980505138.
TEST(UserLevelDp, HonestSurvivorFloorAndNoiseByHand) {
  EXPECT_EQ(dp_survivor_floor(10, 3), 13);
  EXPECT_EQ(dp_survivor_floor(1, 0), 1);
  EXPECT_NEAR(per_device_noise_stddev_honest(1.5, 2.0, 13, 3), 0.9486832980505138, 1e-15);
  // a_max = 0, m_min = t: the former σS/√t.
  EXPECT_DOUBLE_EQ(per_device_noise_stddev_honest(1.2, 0.5, 16, 0), 0.15);
  // A larger floor lowers the per-device noise: m_min = 20, a_max = 4 → σS/4.
  EXPECT_DOUBLE_EQ(per_device_noise_stddev_honest(2.0, 1.0, 20, 4), 0.5);
  EXPECT_THROW(dp_survivor_floor(0, 1), InvalidPrivacyParameter);
  EXPECT_THROW(dp_survivor_floor(5, -1), InvalidPrivacyParameter);
  EXPECT_THROW(per_device_noise_stddev_honest(1.0, 1.0, 3, 3), InvalidPrivacyParameter);
  EXPECT_THROW(per_device_noise_stddev_honest(1.0, 1.0, 5, -1), InvalidPrivacyParameter);
  EXPECT_THROW(per_device_noise_stddev_honest(-1.0, 1.0, 5, 1), InvalidPrivacyParameter);
}

TEST(UserLevelDp, HonestNoiseSurvivesCollusionAtTheFloor) {
  // m_min = t + a_max devices survive; the a_max corrupt ones hand their noise to the
  // coordinator, who subtracts it. What is left must still have std σS.
  const double sigma = 1.5, s = 0.4;
  const std::int64_t t = 6, a_max = 3;
  UserDpConfig cfg{s, sigma, NoiseMode::kDistributed, t, 12, a_max, 0};
  EXPECT_EQ(cfg.survivor_floor(), 9);
  std::vector<float> honest_sum(100000, 0.0f), naive_sum(100000, 0.0f);
  for (std::int64_t d = 0; d < cfg.survivor_floor(); ++d) {
    NoiseSource rng = NoiseSource::from_seed(15, {static_cast<std::uint64_t>(d)});
    std::vector<float> delta(honest_sum.size(), 0.0f);
    const auto rep = privatize_device_update(delta, cfg, rng);
    EXPECT_NEAR(rep.noise_stddev, sigma * s / std::sqrt(6.0), 1e-15);  // σS/√(9 − 3)
    if (d < a_max) continue;  // corrupt: its noise is removed
    for (std::size_t i = 0; i < delta.size(); ++i) honest_sum[i] += delta[i];
  }
  EXPECT_NEAR(rms(honest_sum), sigma * s, 0.01 * sigma * s);
  // With the threshold-only calibration σS/√t, t survivors of which a_max are corrupt leave
  // √((t − a_max)/t)·σS of noise: here √(3/6) ≈ 0.71 σS, less than accounted.
  UserDpConfig naive{s, sigma, NoiseMode::kDistributed, t, 12};
  for (std::int64_t d = a_max; d < t; ++d) {
    NoiseSource rng = NoiseSource::from_seed(16, {static_cast<std::uint64_t>(d)});
    std::vector<float> delta(naive_sum.size(), 0.0f);
    privatize_device_update(delta, naive, rng);
    for (std::size_t i = 0; i < delta.size(); ++i) naive_sum[i] += delta[i];
  }
  EXPECT_NEAR(rms(naive_sum), sigma * s * std::sqrt(0.5), 0.01 * sigma * s);
}

TEST(UserLevelDp, FinalizeAbortsBelowTheSurvivorFloor) {
  UserDpConfig cfg{1.0, 1.0, NoiseMode::kDistributed, 5, 20, 2, 0};  // m_min = 7
  NoiseSource rng = NoiseSource::from_seed(17, {});
  std::vector<float> sum = {10.0f, 20.0f};
  EXPECT_THROW(finalize_user_dp_average(sum, 6, cfg, rng), PrivacyError);  // ≥ t, < m_min
  EXPECT_EQ(sum[0], 10.0f);
  finalize_user_dp_average(sum, 7, cfg, rng);
  EXPECT_FLOAT_EQ(sum[0], 0.5f);
  // An explicit floor above t + a_max is enforced as given.
  UserDpConfig high{1.0, 1.0, NoiseMode::kDistributed, 5, 20, 2, 10};
  std::vector<float> sum2 = {1.0f};
  EXPECT_THROW(finalize_user_dp_average(sum2, 9, high, rng), PrivacyError);
}

TEST(UserLevelDp, SurvivorFloorValidation) {
  // m_min below t + a_max.
  EXPECT_THROW((UserDpConfig{1.0, 1.0, NoiseMode::kDistributed, 5, 20, 2, 6}.validate()),
               InvalidPrivacyParameter);
  EXPECT_THROW((UserDpConfig{1.0, 1.0, NoiseMode::kDistributed, 5, 20, -1, 0}.validate()),
               InvalidPrivacyParameter);
  // m_min above the expected cohort in distributed mode.
  EXPECT_THROW((UserDpConfig{1.0, 1.0, NoiseMode::kDistributed, 8, 10, 3, 0}.validate()),
               InvalidPrivacyParameter);
  EXPECT_NO_THROW((UserDpConfig{1.0, 1.0, NoiseMode::kDistributed, 7, 10, 3, 0}.validate()));
  EXPECT_EQ((UserDpConfig{1.0, 1.0, NoiseMode::kDistributed, 7, 10, 3, 0}.survivor_floor()), 10);
}

}  // namespace
}  // namespace fedlora::privacy
