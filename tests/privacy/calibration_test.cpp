// Noise calibration by bisection: recovers the σ of published (ε, δ) settings and always
// lands on the safe side of the target.
#include "privacy/accounting/calibration.h"

#include <gtest/gtest.h>

#include "privacy/accounting/rdp.h"
#include "privacy/errors.h"

namespace fedlora::privacy {
namespace {

TEST(Calibration, RecoversSigmaOfPublishedDpSgdRun) {
  // 60000 examples, batch 150, 15 epochs, δ 1e-5: σ = 1.3 gives ε = 0.7242234026
  // (TensorFlow Privacy). Calibrating to that ε must give σ ≈ 1.3.
  std::vector<double> orders = {1.25, 1.5, 1.75, 2., 2.25, 2.5, 3., 3.5, 4., 4.5};
  for (int a = 5; a < 64; ++a) orders.push_back(a);
  for (double a : {128.0, 256.0, 512.0}) orders.push_back(a);
  const NoiseCalibration c = noise_for_epsilon(0.7242234026109595, 1e-5, 150.0 / 60000, 6000,
                                               orders, 1e-8);
  EXPECT_NEAR(c.noise_multiplier, 1.3, 1e-6);
  EXPECT_LE(c.achieved.epsilon, 0.7242234026109595);
  EXPECT_GE(c.noise_multiplier, 1.3 - 1e-9);  // never below the σ that meets the target
}

TEST(Calibration, ResultMeetsTargetAndIsTight) {
  const auto orders = default_orders();
  for (double target : {0.5, 2.0, 8.0}) {
    const NoiseCalibration c = noise_for_epsilon(target, 1e-6, 0.02, 500, orders, 1e-6);
    const auto eps = [&](double s) {
      return epsilon_from_rdp(orders, compute_rdp(0.02, s, 500, orders), 1e-6).epsilon;
    };
    EXPECT_LE(eps(c.noise_multiplier), target);
    EXPECT_GT(eps(c.noise_multiplier * (1 - 1e-5)), target);  // bracket was tight
  }
}

TEST(Calibration, RejectsInvalidInput) {
  const auto orders = default_orders();
  EXPECT_THROW(noise_for_epsilon(0.0, 1e-5, 0.1, 10, orders), InvalidPrivacyParameter);
  EXPECT_THROW(noise_for_epsilon(1.0, 0.0, 0.1, 10, orders), InvalidPrivacyParameter);
  EXPECT_THROW(noise_for_epsilon(1.0, 1e-5, 0.0, 10, orders), InvalidPrivacyParameter);
  EXPECT_THROW(noise_for_epsilon(1.0, 1e-5, 0.1, 0, orders), InvalidPrivacyParameter);
}

}  // namespace
}  // namespace fedlora::privacy
