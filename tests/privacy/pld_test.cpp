// PLD accountant against dp_accounting's published PLD numbers (TensorFlow Privacy's
// compute_dp_sgd_privacy tests), the exact Gaussian-mechanism curve (Balle & Wang 2018,
// Thm 8), numerical integration of the hockey-stick divergence, and the RDP bound.
#include "privacy/accounting/pld.h"

#include <gtest/gtest.h>

#include <cmath>

#include "privacy/accounting/epsilon.h"
#include "privacy/accounting/rdp.h"
#include "privacy/errors.h"

namespace fedlora::privacy {
namespace {

double phi(double z) { return 0.5 * std::erfc(-z / std::sqrt(2.0)); }

// Exact δ(ε) of the Gaussian mechanism with noise multiplier s (Balle & Wang 2018, Thm 8).
double gaussian_delta(double s, double eps) {
  return phi(-eps * s + 0.5 / s) - std::exp(eps) * phi(-eps * s - 0.5 / s);
}

double pld_epsilon(double q, double sigma, std::int64_t steps, double delta) {
  PldAccountant acc;
  acc.compose_poisson_gaussian(q, sigma, steps);
  return acc.epsilon(delta);
}

TEST(Pld, TfPrivacyPublishedValuesWithSubsampling) {
  // compute_dp_sgd_privacy_test: 1.2 epochs at q = 0.01 (120 steps), δ = 1e-5,
  // σ = 0.7 and (microbatching) 0.35: ε = 2.4612381 and 18.6977407 with PLD.
  EXPECT_NEAR(pld_epsilon(0.01, 0.7, 120, 1e-5), 2.4612381, 5e-7);
  EXPECT_NEAR(pld_epsilon(0.01, 0.35, 120, 1e-5), 18.6977407, 5e-7);
}

TEST(Pld, TfPrivacyPublishedValuesWithoutSubsampling) {
  // Same test, no subsampling: 2 full-batch Gaussian steps: 10.1224946 and 24.7160779.
  EXPECT_NEAR(pld_epsilon(1.0, 0.7, 2, 1e-5), 10.1224946, 5e-7);
  EXPECT_NEAR(pld_epsilon(1.0, 0.35, 2, 1e-5), 24.7160779, 5e-7);
}

TEST(Pld, TfPrivacyStatementPoissonEpsilon) {
  // compute_dp_sgd_privacy_statement with PLD: 10000 examples, batch 64, 5 epochs,
  // σ 2.0 with microbatching (1.0), δ 1e-6: "Epsilon assuming Poisson sampling: 1.199".
  EXPECT_NEAR(pld_epsilon(64.0 / 10000, 1.0, 782, 1e-6), 1.199, 0.5e-3);
}

TEST(Pld, GaussianCompositionIsPessimisticAndTight) {
  // T Gaussian steps with multiplier σ are one Gaussian with σ/√T: exact curve known.
  const double sigma = 3.0;
  const std::int64_t steps = 10;
  PldAccountant acc;
  acc.compose_poisson_gaussian(1.0, sigma, steps);
  const double s = sigma / std::sqrt(static_cast<double>(steps));
  for (double eps : {0.25, 0.5, 1.0, 2.0, 3.0}) {
    const double exact = gaussian_delta(s, eps);
    const double got = acc.delta(eps);
    EXPECT_GE(got, exact * (1 - 1e-9)) << eps;        // never optimistic
    EXPECT_LE(got, exact * 1.001 + 1e-14) << eps;     // and close
  }
}

TEST(Pld, OneStepDeltaMatchesNumericalIntegration) {
  // δ(ε) = ∫ [μ_U(x) − e^ε μ_L(x)]₊ dx by the midpoint rule on [−12, 13] in long double.
  auto integrate = [](double q, double sigma, bool remove, double eps) {
    const auto pdf = [&](long double x, long double mean) {
      const long double z = (x - mean) / sigma;
      return std::exp(-0.5L * z * z) / (sigma * std::sqrt(2.0L * M_PI));
    };
    long double sum = 0.0L;
    const int n = 400000;
    const long double a = -12.0L * sigma, b = 1.0L + 12.0L * sigma, dx = (b - a) / n;
    for (int i = 0; i < n; ++i) {
      const long double x = a + (i + 0.5L) * dx;
      const long double mix = (1 - q) * pdf(x, 0) + q * pdf(x, 1);
      const long double gauss = pdf(x, 0);
      const long double upper = remove ? mix : gauss, lower = remove ? gauss : mix;
      const long double d = upper - std::exp((long double)eps) * lower;
      if (d > 0) sum += d * dx;
    }
    return static_cast<double>(sum);
  };
  for (bool remove : {true, false}) {
    for (double eps : {-0.05, 0.0, 0.01, 0.3}) {
      const double q = 0.2, sigma = 0.9;
      const double expected = integrate(q, sigma, remove, eps);
      EXPECT_NEAR(subsampled_gaussian_delta(q, sigma, remove, eps), expected, 1e-9)
          << remove << " " << eps;
    }
  }
}

TEST(Pld, NeverLooserThanRdp) {
  const auto orders = default_orders();
  for (double q : {0.005, 0.05}) {
    for (double sigma : {0.8, 1.5}) {
      const double rdp_eps =
          epsilon_from_rdp(orders, compute_rdp(q, sigma, 200, orders), 1e-6).epsilon;
      const double pld_eps = pld_epsilon(q, sigma, 200, 1e-6);
      EXPECT_LE(pld_eps, rdp_eps) << q << " " << sigma;
      EXPECT_GT(pld_eps, 0.0);
    }
  }
}

TEST(Pld, CoarserGridIsMorePessimistic) {
  PldAccountant fine({1e-4}), coarse({1e-3});
  fine.compose_poisson_gaussian(0.02, 1.1, 300);
  coarse.compose_poisson_gaussian(0.02, 1.1, 300);
  EXPECT_GE(coarse.epsilon(1e-5), fine.epsilon(1e-5) - 1e-9);
}

TEST(Pld, HeterogeneousCompositionAndEdgeCases) {
  PldAccountant a, b, both;
  a.compose_poisson_gaussian(0.01, 1.0, 100);
  b.compose_poisson_gaussian(0.05, 2.0, 50);
  both.compose_poisson_gaussian(0.01, 1.0, 100);
  both.compose_poisson_gaussian(0.05, 2.0, 50);
  EXPECT_GT(both.epsilon(1e-6), a.epsilon(1e-6));
  EXPECT_GT(both.epsilon(1e-6), b.epsilon(1e-6));

  PldAccountant none;
  none.compose_poisson_gaussian(0.0, 1.0, 100);
  EXPECT_EQ(none.epsilon(1e-6), 0.0);
  PldAccountant no_noise;
  no_noise.compose_poisson_gaussian(0.1, 0.0, 1);
  EXPECT_EQ(no_noise.epsilon(1e-6), std::numeric_limits<double>::infinity());

  PldAccountant bad;
  EXPECT_THROW(bad.compose_poisson_gaussian(1.5, 1.0, 1), InvalidPrivacyParameter);
  EXPECT_THROW(bad.compose_poisson_gaussian(0.1, -1.0, 1), InvalidPrivacyParameter);
  EXPECT_THROW(bad.compose_poisson_gaussian(0.1, 1.0, -1), InvalidPrivacyParameter);
  EXPECT_THROW((void)bad.epsilon(0.0), InvalidPrivacyParameter);
  EXPECT_THROW(PldAccountant({0.0}), InvalidPrivacyParameter);
}

}  // namespace
}  // namespace fedlora::privacy
