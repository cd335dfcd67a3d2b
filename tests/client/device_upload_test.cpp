// make_upload: what a device really sends (client/upload), checked by hand: clipping, the
// weight, the clip indicator of adaptive clipping, and the distributed noise split
// σS/√(m_min − a_max) measured on many coordinates.
#include <gtest/gtest.h>

#include <cmath>
#include <numeric>
#include <vector>

#include "client/upload/device_upload.h"
#include "privacy/errors.h"

namespace fedlora::client {
namespace {

protocol::UserDpInstructions central(double clip) {
  protocol::UserDpInstructions in;
  in.update.l2_norm_clip = clip;
  in.update.noise_multiplier = 1.0;
  in.update.mode = privacy::NoiseMode::kCentral;
  in.update.expected_cohort = 4;
  return in;
}

TEST(MakeUpload, PlainUploadIsWeightTimesDelta) {
  const auto up = make_upload({1.0f, -2.0f, 0.5f}, 3.0, std::nullopt, nullptr);
  EXPECT_EQ(up.values, (std::vector<float>{3.0f, -6.0f, 1.5f}));
  EXPECT_EQ(up.weight, 3.0);
}

TEST(MakeUpload, CentralModeClipsToSAndAddsNoNoise) {
  auto noise = privacy::NoiseSource::from_os_entropy();
  UploadStats st;
  // ‖(3, 4)‖ = 5 > S = 1: scaled by 1/5 to (0.6, 0.8); then weight 1 (uniform under DP).
  const auto up = make_upload({3.0f, 4.0f}, 1.0, central(1.0), &noise, &st);
  ASSERT_EQ(up.values.size(), 2u);
  EXPECT_NEAR(up.values[0], 0.6f, 1e-6);
  EXPECT_NEAR(up.values[1], 0.8f, 1e-6);
  EXPECT_DOUBLE_EQ(st.pre_clip_norm, 5.0);
  EXPECT_TRUE(st.clipped);
  // Inside the ball nothing changes.
  const auto small = make_upload({0.3f, 0.4f}, 1.0, central(1.0), &noise, &st);
  EXPECT_EQ(small.values, (std::vector<float>{0.3f, 0.4f}));
  EXPECT_FALSE(st.clipped);
}

TEST(MakeUpload, ClipIndicatorIsAppendedCentredAndNoised) {
  auto noise = privacy::NoiseSource::from_os_entropy();
  auto in = central(1.0);
  in.report_clip_indicator = true;
  // Unclipped (‖Δ‖ = 0.5 ≤ 1): b − ½ = +½; clipped (‖Δ‖ = 5): −½. No indicator noise in central mode.
  auto a = make_upload({0.3f, 0.4f}, 1.0, in, &noise);
  ASSERT_EQ(a.values.size(), 3u);
  EXPECT_EQ(a.values[2], 0.5f);
  auto b = make_upload({3.0f, 4.0f}, 1.0, in, &noise);
  EXPECT_EQ(b.values[2], -0.5f);
  // With indicator noise σ_ind: over many uploads the indicator's mean is +½ and its sd σ_ind.
  in.clip_indicator_noise_stddev = 2.0;
  const int n = 20000;
  double sum = 0, sq = 0;
  for (int i = 0; i < n; ++i) {
    const double v = make_upload({0.3f, 0.4f}, 1.0, in, &noise).values[2];
    sum += v;
    sq += (v - 0.5) * (v - 0.5);
  }
  EXPECT_NEAR(sum / n, 0.5, 6 * 2.0 / std::sqrt(n));
  EXPECT_NEAR(std::sqrt(sq / n), 2.0, 6 * 2.0 / std::sqrt(2.0 * n));
}

TEST(MakeUpload, DistributedNoiseIsSigmaSOverRootOfHonestFloor) {
  auto noise = privacy::NoiseSource::from_os_entropy();
  protocol::UserDpInstructions in;
  in.update.mode = privacy::NoiseMode::kDistributed;
  in.update.l2_norm_clip = 0.5;
  in.update.noise_multiplier = 1.2;
  in.update.min_contributors = 6;      // t
  in.update.max_corrupt_clients = 2;   // a_max → m_min = 8, honest floor 6
  in.update.expected_cohort = 10;
  const std::size_t d = 50000;
  // Δ = 0: everything sent is noise. By hand: σS/√(m_min − a_max) = 1.2·0.5/√6.
  const auto up = make_upload(std::vector<float>(d, 0.0f), 1.0, in, &noise);
  double sq = 0;
  for (float v : up.values) sq += static_cast<double>(v) * v;
  const double expected = 1.2 * 0.5 / std::sqrt(6.0);
  const double measured = std::sqrt(sq / static_cast<double>(d));
  EXPECT_NEAR(measured, expected, 6 * expected / std::sqrt(2.0 * static_cast<double>(d)));
  // Not σS/√m_min (calibrating to all survivors, colluders included): distinguishable at this d.
  EXPECT_GT(std::abs(measured - 1.2 * 0.5 / std::sqrt(8.0)), 10 * expected / std::sqrt(2.0 * static_cast<double>(d)));
}

TEST(MakeUpload, RejectsNonFiniteUpdatesBadWeightsAndMissingNoise) {
  auto noise = privacy::NoiseSource::from_os_entropy();
  EXPECT_THROW(make_upload({1.0f, NAN}, 1.0, std::nullopt, nullptr), privacy::NonFiniteValueError);
  EXPECT_THROW(make_upload({1.0f, INFINITY}, 1.0, central(1.0), &noise), privacy::NonFiniteValueError);
  EXPECT_THROW(make_upload({1.0f}, -1.0, std::nullopt, nullptr), std::invalid_argument);
  EXPECT_THROW(make_upload({1.0f}, NAN, std::nullopt, nullptr), std::invalid_argument);
  EXPECT_THROW(make_upload({1.0f}, 1.0, central(1.0), nullptr), std::invalid_argument);
}

}  // namespace
}  // namespace fedlora::client
