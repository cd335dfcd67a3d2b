// Adaptive clipping (Andrew et al. 2021): the noise split, the geometric update by hand,
// and convergence to the target quantile of a known norm distribution.
#include "privacy/user_dp/adaptive_clipping.h"

#include <gtest/gtest.h>

#include <cmath>

#include "privacy/accounting/rdp_accountant.h"
#include "privacy/errors.h"

namespace fedlora::privacy {
namespace {

TEST(AdaptiveClipping, NoiseSplitComposesBackToTotal) {
  AdaptiveClippingConfig cfg;
  cfg.noise_multiplier = 1.0;
  cfg.count_noise_stddev = 5.0;
  cfg.expected_cohort = 100;
  AdaptiveClipping ac(cfg);
  // By hand: z_Δ = (1 − 1/100)^−½.
  EXPECT_NEAR(ac.update_noise_multiplier(), 1.0 / std::sqrt(0.99), 1e-15);
  EXPECT_EQ(ac.accounting_noise_multiplier(), 1.0);
  const double parts[] = {ac.update_noise_multiplier(), 2.0 * cfg.count_noise_stddev};
  EXPECT_NEAR(composed_noise_multiplier(parts), 1.0, 1e-14);
  EXPECT_DOUBLE_EQ(ac.count_noise_stddev(NoiseMode::kCentral, 1), 5.0);
  EXPECT_DOUBLE_EQ(ac.count_noise_stddev(NoiseMode::kDistributed, 25), 1.0);
}

TEST(AdaptiveClipping, GeometricUpdateByHand) {
  AdaptiveClippingConfig cfg;
  cfg.initial_clip = 1.0;
  cfg.learning_rate = 0.2;
  cfg.target_quantile = 0.5;
  cfg.noise_multiplier = 0.0;
  cfg.expected_cohort = 10;
  AdaptiveClipping ac(cfg);
  // 8 of 10 unclipped: Σ(b − ½) = 8·½ − 2·½ = 3 → b̄ = 0.8, C ← exp(−0.2·0.3).
  EXPECT_DOUBLE_EQ(AdaptiveClipping::centred_clip_indicator(0.9, 1.0), 0.5);
  EXPECT_DOUBLE_EQ(AdaptiveClipping::centred_clip_indicator(1.0, 1.0), 0.5);
  EXPECT_DOUBLE_EQ(AdaptiveClipping::centred_clip_indicator(1.1, 1.0), -0.5);
  EXPECT_NEAR(ac.update(3.0), 0.8, 1e-15);
  EXPECT_NEAR(ac.clip_norm(), std::exp(-0.06), 1e-15);
  // Noise can push b̄ outside [0, 1]; it is clamped.
  EXPECT_EQ(ac.update(100.0), 1.0);
  EXPECT_NEAR(ac.clip_norm(), std::exp(-0.06) * std::exp(-0.1), 1e-15);
}

TEST(AdaptiveClipping, ConvergesToTargetQuantileWithNoise) {
  // Update norms uniform on [0, 10]: the γ = 0.7 quantile is 7.
  AdaptiveClippingConfig cfg;
  cfg.initial_clip = 0.1;
  cfg.target_quantile = 0.7;
  cfg.learning_rate = 0.2;
  cfg.noise_multiplier = 1.0;
  cfg.expected_cohort = 1000;
  cfg.count_noise_stddev = 1000 / 20.0;
  AdaptiveClipping ac(cfg);
  NoiseSource rng = NoiseSource::from_seed(31, {});
  double late_sum = 0;
  int late = 0;
  for (int round = 0; round < 400; ++round) {
    double sum = 0;
    for (int i = 0; i < 1000; ++i) {
      sum += AdaptiveClipping::centred_clip_indicator(10.0 * rng.uniform(), ac.clip_norm());
    }
    sum += ac.count_noise_stddev(NoiseMode::kCentral, 1) * rng.gaussian();
    ac.update(sum);
    if (round >= 200) {
      late_sum += ac.clip_norm();
      ++late;
    }
  }
  EXPECT_NEAR(late_sum / late, 7.0, 0.35);
}

TEST(AdaptiveClipping, RejectsImpossibleSplitAndBadState) {
  AdaptiveClippingConfig cfg;
  cfg.noise_multiplier = 1.0;
  cfg.count_noise_stddev = 0.5;  // 2σ_b = z: no finite z_Δ
  cfg.expected_cohort = 10;
  EXPECT_THROW(AdaptiveClipping{cfg}, InvalidPrivacyParameter);
  cfg.count_noise_stddev = 10.0;
  EXPECT_THROW(AdaptiveClipping::resume(cfg, 0.0), InvalidPrivacyParameter);
  EXPECT_DOUBLE_EQ(AdaptiveClipping::resume(cfg, 2.5).clip_norm(), 2.5);
  AdaptiveClipping ac(cfg);
  EXPECT_THROW(ac.update(std::nan("")), NonFiniteValueError);
  EXPECT_THROW(AdaptiveClipping::centred_clip_indicator(std::nan(""), 1.0), NonFiniteValueError);
  cfg.target_quantile = 1.5;
  EXPECT_THROW(AdaptiveClipping{cfg}, InvalidPrivacyParameter);
}

// Clip-indicator noise under the honest-survivor rule: σ_b/√(m_min − a_max); by hand
// σ_b = 5, m_min = 13, a_max = 3 → 5/√10 = 1.5811388300841898.
TEST(AdaptiveClipping, HonestCountNoiseByHand) {
  AdaptiveClippingConfig cfg;
  cfg.noise_multiplier = 1.0;
  cfg.count_noise_stddev = 5.0;
  cfg.expected_cohort = 100;
  const AdaptiveClipping ac(cfg);
  EXPECT_NEAR(ac.count_noise_stddev_honest(13, 3), 1.5811388300841898, 1e-15);
  EXPECT_DOUBLE_EQ(ac.count_noise_stddev_honest(25, 0), ac.count_noise_stddev(NoiseMode::kDistributed, 25));
  EXPECT_THROW((void)ac.count_noise_stddev_honest(3, 3), InvalidPrivacyParameter);
  EXPECT_THROW((void)ac.count_noise_stddev_honest(5, -1), InvalidPrivacyParameter);
}

}  // namespace
}  // namespace fedlora::privacy
