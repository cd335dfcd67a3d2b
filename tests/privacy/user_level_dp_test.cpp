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

}  // namespace
}  // namespace fedlora::privacy
