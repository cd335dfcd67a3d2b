// Reference DP-SGD step: clip each example, sum, add N(0, σ²C²), divide by q·N.
#include "privacy/dpsgd/dp_sgd.h"

#include <gtest/gtest.h>

#include <cmath>

#include "privacy/errors.h"

namespace fedlora::privacy {
namespace {

TEST(DpSgd, ClippedPerExampleNormsAtMostC) {
  NoiseSource rng = NoiseSource::from_seed(1, {});
  PerExampleGradients g(64, 3000);
  for (Eigen::Index r = 0; r < g.rows(); ++r) {
    std::span<float> row(g.row(r).data(), g.cols());
    rng.fill_gaussian(row, 0.001 * (r + 1) * (r + 1));  // norms from ~0.05 to ~220
  }
  const PerExampleGradients original = g;
  const double clip = 1.5;
  const Eigen::VectorXd norms = clip_rows_l2(g, clip);
  int clipped = 0;
  for (Eigen::Index r = 0; r < g.rows(); ++r) {
    const double before = original.row(r).cast<double>().norm();
    const double after = g.row(r).cast<double>().norm();
    EXPECT_NEAR(norms[r], before, before * 1e-12);
    ASSERT_LE(after, clip) << r;
    if (before > clip) ++clipped;
    else EXPECT_TRUE(g.row(r) == original.row(r));
  }
  EXPECT_GT(clipped, 10);  // the test exercises both branches
  EXPECT_LT(clipped, 64);
}

TEST(DpSgd, NoiselessStepIsClippedSumOverExpectedBatch) {
  // Hand-computed: rows (3,4) [norm 5 → clipped to 1] and (0.6, 0) [kept]; C = 1,
  // q = 0.01, N = 200 → divide by 2.
  PerExampleGradients g(2, 2);
  g << 3.0f, 4.0f, 0.6f, 0.0f;
  DpSgdConfig cfg{1.0, 0.0, 0.01, 200};
  NoiseSource rng = NoiseSource::from_seed(2, {});
  const Eigen::VectorXf out = dp_sgd_noisy_gradient(g, cfg, rng);
  EXPECT_NEAR(out[0], (0.6 + 0.6) / 2, 1e-6);
  EXPECT_NEAR(out[1], 0.8 / 2, 1e-6);
}

TEST(DpSgd, EmptyLotIsPureNoiseWithStdSigmaCOverExpectedBatch) {
  PerExampleGradients none(0, 200000);
  DpSgdConfig cfg{0.5, 1.2, 0.02, 1000};  // σC = 0.6, q·N = 20 → std 0.03
  NoiseSource rng = NoiseSource::from_seed(3, {});
  const Eigen::VectorXf out = dp_sgd_noisy_gradient(none, cfg, rng);
  ASSERT_EQ(out.size(), 200000);
  const double sd = std::sqrt(out.cast<double>().squaredNorm() / out.size());
  EXPECT_NEAR(sd, 0.03, 0.03 * 0.01);
}

TEST(DpSgd, RejectsBadConfigAndNonFiniteGradients) {
  NoiseSource rng = NoiseSource::from_seed(4, {});
  PerExampleGradients g = PerExampleGradients::Ones(2, 3);
  EXPECT_THROW(dp_sgd_noisy_gradient(g, {0.0, 1.0, 0.1, 10}, rng), InvalidPrivacyParameter);
  EXPECT_THROW(dp_sgd_noisy_gradient(g, {1.0, -1.0, 0.1, 10}, rng), InvalidPrivacyParameter);
  EXPECT_THROW(dp_sgd_noisy_gradient(g, {1.0, 1.0, 0.0, 10}, rng), InvalidPrivacyParameter);
  EXPECT_THROW(dp_sgd_noisy_gradient(g, {1.0, 1.0, 0.1, 0}, rng), InvalidPrivacyParameter);
  g(1, 2) = std::nanf("");
  EXPECT_THROW(dp_sgd_noisy_gradient(g, {1.0, 1.0, 0.1, 10}, rng), NonFiniteValueError);
}

}  // namespace
}  // namespace fedlora::privacy
