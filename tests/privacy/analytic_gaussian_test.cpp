// Exact ε of the Gaussian mechanism (Balle & Wang 2018, Thm 8) against hand computation
// with standard-normal table values, TensorFlow Federated's published calibration vectors,
// and the independent PLD accountant at q = 1.
#include "privacy/accounting/analytic_gaussian.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "privacy/accounting/pld.h"
#include "privacy/accounting/rdp_accountant.h"
#include "privacy/errors.h"

namespace fedlora::privacy {
namespace {

TEST(AnalyticGaussian, DeltaMatchesHandComputation) {
  // μ = 1, ε = 1: δ = Φ(−0.5) − e·Φ(−1.5) with Φ(−0.5) = 0.3085375387259869 and
  // Φ(−1.5) = 0.0668072012688581 (standard normal table, 16 digits).
  const double expected = 0.3085375387259869 - std::exp(1.0) * 0.0668072012688581;
  EXPECT_NEAR(analytic_gaussian_delta(1.0, 1.0), expected, 1e-15);
  EXPECT_NEAR(expected, 0.1269367375066439, 1e-15);
  // ε = 0: δ = Φ(μ/2) − Φ(−μ/2) = 1 − 2Φ(−0.5) = 0.3829249225480262 at μ = 1.
  EXPECT_NEAR(analytic_gaussian_delta(1.0, 0.0), 1.0 - 2 * 0.3085375387259869, 1e-15);
  EXPECT_EQ(analytic_gaussian_delta(0.0, 0.5), 0.0);
  EXPECT_EQ(analytic_gaussian_delta(std::numeric_limits<double>::infinity(), 3.0), 1.0);
}

TEST(AnalyticGaussian, ReproducesTensorFlowFederatedCalibration) {
  // tensorflow_federated/python/analytics/differential_privacy_test.py,
  // test_analytic_gauss_stddev_as_expected: σ = 0.50706503 is the analytic-Gaussian noise
  // for (ε = 1, δ = 0.5), and σ = 3.42466239 for (ε = ln 3, δ = 1e-5), sensitivity 1
  // (published to 8 decimals, so ε is recovered to about 1e-8).
  EXPECT_NEAR(analytic_gaussian_epsilon(1.0 / 0.50706503, 0.5), 1.0, 1e-7);
  EXPECT_NEAR(analytic_gaussian_epsilon(1.0 / 3.42466239, 1e-5), std::log(3.0), 1e-7);
}

TEST(AnalyticGaussian, EpsilonInvertsDelta) {
  for (double mu : {0.05, 0.5, 2.0, 8.0}) {
    for (double delta : {1e-10, 1e-5, 2.3e-3, 0.1}) {
      const double eps = analytic_gaussian_epsilon(mu, delta);
      if (eps == 0.0) {
        EXPECT_LE(analytic_gaussian_delta(mu, 0.0), delta);
        continue;
      }
      EXPECT_LE(analytic_gaussian_delta(mu, eps), delta * (1 + 1e-9)) << mu << " " << delta;
      EXPECT_GT(analytic_gaussian_delta(mu, eps * (1 - 1e-6)), delta) << mu << " " << delta;
    }
  }
  // μ = 0.05 at δ = 0.1: δ(0) = 2Φ(0.025) − 1 ≈ 0.0199 < 0.1, so ε = 0.
  EXPECT_EQ(analytic_gaussian_epsilon(0.05, 0.1), 0.0);
}

TEST(AnalyticGaussian, AgreesWithPldAccountantAtSamplingRateOne) {
  // The PLD accountant discretises pessimistically (h = 1e-4), so it lies slightly above the
  // exact value; 16 Gaussians of σ = 1.5 compose to μ = 4/1.5.
  const double delta = std::pow(247.0, -1.1);
  PldAccountant pld;
  pld.compose_poisson_gaussian(1.0, 1.5, 16);
  const double exact = analytic_gaussian_epsilon(4.0 / 1.5, delta);
  const double discretised = pld.epsilon(delta);
  EXPECT_LE(exact, discretised + 1e-9);
  EXPECT_LT(discretised - exact, 2e-3);
}

TEST(AnalyticGaussian, NeverAboveTheRdpConversion) {
  for (int k : {1, 16, 40, 400}) {
    RdpAccountant rdp;
    rdp.compose_gaussian(1.5, k);
    const double exact = analytic_gaussian_epsilon(std::sqrt(k) / 1.5, 1e-5);
    EXPECT_LT(exact, rdp.epsilon(1e-5).epsilon) << k;
  }
}

TEST(AnalyticGaussian, RejectsOutOfDomainInput) {
  EXPECT_THROW(analytic_gaussian_delta(-1.0, 1.0), InvalidPrivacyParameter);
  EXPECT_THROW(analytic_gaussian_delta(std::nan(""), 1.0), InvalidPrivacyParameter);
  EXPECT_THROW(analytic_gaussian_delta(1.0, -0.1), InvalidPrivacyParameter);
  EXPECT_THROW(analytic_gaussian_epsilon(1.0, 0.0), InvalidPrivacyParameter);
  EXPECT_THROW(analytic_gaussian_epsilon(1.0, 1.0), InvalidPrivacyParameter);
  EXPECT_THROW(gaussian_mu_from_sum_inverse_sigma2(-1.0), InvalidPrivacyParameter);
  EXPECT_EQ(analytic_gaussian_epsilon(std::numeric_limits<double>::infinity(), 1e-5),
            std::numeric_limits<double>::infinity());
}

}  // namespace
}  // namespace fedlora::privacy
