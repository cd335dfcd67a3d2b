// RDP of the Poisson-subsampled Gaussian mechanism against published vectors (TensorFlow
// Privacy / dp_accounting tests), high-precision numerical integration (mpmath scripts in
// reference/), a direct linear-space sum, and structural properties.
#include "privacy/accounting/rdp.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "privacy/errors.h"

namespace fedlora::privacy {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

TEST(Rdp, TfPrivacyVectorOrderFive) {
  // tensorflow_privacy rdp_accountant_test: compute_rdp(0.1, 2, 10, 5) = 0.07737 (5 places).
  const double orders[] = {5.0};
  const auto rdp = compute_rdp(0.1, 2.0, 10, orders);
  EXPECT_NEAR(rdp[0], 0.07737, 0.5e-5);
  // mpmath integration (reference/rdp_vectors_mpmath.py): 0.0773696848979589940…
  EXPECT_NEAR(rdp[0], 0.07736968489795899, 1e-13);
}

TEST(Rdp, TfPrivacyVectorAcrossOrdersIncludingInfinity) {
  // tensorflow_privacy test_compute_rdp_sequence (q = 0.01, σ = 2.5, T = 50).
  const std::vector<double> orders = {1.5, 2.5, 5, 50, 100, kInf};
  const auto rdp = compute_rdp(0.01, 2.5, 50, orders);
  const double published[] = {0.00065, 0.001085, 0.00218075, 0.023846, 167.416307};
  for (int i = 0; i < 5; ++i) EXPECT_NEAR(rdp[i], published[i], 1e-5) << orders[i];
  EXPECT_EQ(rdp[5], kInf);
  // mpmath integration of A_α (reference/rdp_vectors_mpmath.py). log(A) with A ≈ 1 + 7e-6
  // loses ~5 digits to cancellation in double, hence 1e-9 relative.
  const double exact[] = {6.500708971867387e-4, 1.0854180569174015e-3, 2.1807565623073388e-3,
                          2.3846037538705727e-2, 167.41630754841826};
  for (int i = 0; i < 5; ++i) EXPECT_NEAR(rdp[i], exact[i], exact[i] * 1e-9) << orders[i];
}

struct LogACase {
  double q, sigma, order, log_a;
};

TEST(Rdp, LogAMatchesHighPrecisionIntegration) {
  // Parameter grid of dp_accounting's test_compute_log_a_equals_mp; reference values from
  // reference/log_a_mpmath.py (mpmath quadrature at 50 digits).
  const LogACase cases[] = {
      {1e-7, 0.1, 1.01, 4.0034123278425315e-8},  {1e-6, 0.1, 256, 3260463.2292971602},
      {1e-5, 0.1, 256.1, 3263607.0397884208},    {1e-6, 1.0, 27, 8.769503540806863e-10},
      {1e-4, 1.0, 1.5, 6.4426869703639565e-9},   {1e-3, 1.0, 2, 1.7182803522127806e-6},
      {0.01, 10, 20, 0.00019129699912825616},    {0.1, 100, 20.5, 0.00019991818458125194},
      {0.99, 0.1, 256, 3263997.4271140206},      {0.999, 100, 256.1, 3.2601080379731127},
  };
  for (const auto& c : cases) {
    // Absolute floor 1e-13: log(A) for A = 1 + 4e-8 is limited by double rounding of A
    // (dp_accounting's own test allows rtol 1e-4, atol 1e-8).
    EXPECT_NEAR(log_a_sampled_gaussian(c.q, c.sigma, c.order), c.log_a,
                std::fabs(c.log_a) * 1e-8 + 1e-13)
        << "q=" << c.q << " sigma=" << c.sigma << " order=" << c.order;
  }
}

TEST(Rdp, IntegerOrderMatchesLinearSpaceSum) {
  // A_α = Σ_k C(α,k)(1−q)^{α−k} q^k exp((k²−k)/(2σ²)), summed directly in long double.
  for (int alpha : {2, 3, 7, 16}) {
    for (double sigma : {0.8, 1.5, 4.0}) {
      const double q = 0.05;
      long double a = 0.0L, binom = 1.0L;
      for (int k = 0; k <= alpha; ++k) {
        if (k > 0) binom = binom * (alpha - k + 1) / k;
        a += binom * std::pow(1.0L - q, alpha - k) * std::pow((long double)q, k) *
             std::exp((long double)(k * k - k) / (2.0L * sigma * sigma));
      }
      const double expected = static_cast<double>(std::log(a) / (alpha - 1));
      EXPECT_NEAR(rdp_poisson_gaussian(q, sigma, alpha), expected, expected * 1e-12)
          << alpha << " " << sigma;
    }
  }
}

TEST(Rdp, EdgeCases) {
  const std::vector<double> orders = {1.5, 2.0, 32.0, kInf};
  for (double r : compute_rdp(0.0, 1.0, 100, orders)) EXPECT_EQ(r, 0.0);  // q = 0
  for (double r : compute_rdp(0.0, 0.0, 100, orders)) EXPECT_EQ(r, 0.0);  // q = 0, σ = 0
  for (double r : compute_rdp(0.3, 0.0, 1, orders)) EXPECT_EQ(r, kInf);   // σ = 0
  for (double r : compute_rdp(0.3, 1.0, 0, orders)) EXPECT_EQ(r, 0.0);    // no steps
  // q = 1: the Gaussian mechanism, α/(2σ²) per step.
  const auto full = compute_rdp(1.0, 2.0, 3, orders);
  EXPECT_DOUBLE_EQ(full[0], 3 * 1.5 / 8.0);
  EXPECT_DOUBLE_EQ(full[2], 3 * 32.0 / 8.0);
  EXPECT_EQ(full[3], kInf);
  EXPECT_EQ(rdp_poisson_gaussian(0.5, 3.0, kInf), kInf);
}

TEST(Rdp, RejectsInvalidInput) {
  const double good[] = {2.0};
  EXPECT_THROW(compute_rdp(-0.1, 1.0, 1, good), InvalidPrivacyParameter);
  EXPECT_THROW(compute_rdp(1.1, 1.0, 1, good), InvalidPrivacyParameter);
  EXPECT_THROW(compute_rdp(std::nan(""), 1.0, 1, good), InvalidPrivacyParameter);
  EXPECT_THROW(compute_rdp(0.1, -1.0, 1, good), InvalidPrivacyParameter);
  EXPECT_THROW(compute_rdp(0.1, kInf, 1, good), InvalidPrivacyParameter);
  EXPECT_THROW(compute_rdp(0.1, 1.0, -1, good), InvalidPrivacyParameter);
  for (double bad : {1.0, 0.5, -2.0, std::nan("")}) {
    const double orders[] = {2.0, bad};
    EXPECT_THROW(compute_rdp(0.1, 1.0, 1, orders), InvalidPrivacyParameter) << bad;
  }
  EXPECT_THROW(compute_rdp(0.1, 1.0, 1, std::span<const double>()), InvalidPrivacyParameter);
}

TEST(Rdp, DefaultOrders) {
  const auto orders = default_orders();
  ASSERT_EQ(orders.size(), 99u + 53u + 4u);
  EXPECT_EQ(orders.front(), 1.1);
  EXPECT_EQ(orders[98], 10.9);
  EXPECT_EQ(orders[99], 11.0);
  EXPECT_EQ(orders[151], 63.0);
  EXPECT_EQ(orders[152], 128.0);
  EXPECT_EQ(orders.back(), 1024.0);
  for (std::size_t i = 1; i < orders.size(); ++i) EXPECT_LT(orders[i - 1], orders[i]);
}

TEST(Rdp, MonotoneInOrderNoiseAndRate) {
  // RDP is non-decreasing in α (Mironov 2017, Prop. 9); this also checks that the integer
  // and fractional series agree where they meet.
  for (double q : {1e-3, 0.01, 0.2, 0.7}) {
    for (double sigma : {0.6, 1.0, 3.0}) {
      double prev = 0.0;
      for (double a = 1.1; a < 40.0; a += 0.1) {
        const double r = rdp_poisson_gaussian(q, sigma, a);
        EXPECT_GE(r, prev * (1 - 1e-12)) << "q=" << q << " sigma=" << sigma << " a=" << a;
        prev = r;
      }
      EXPECT_LT(rdp_poisson_gaussian(q, sigma * 1.1, 8.0), rdp_poisson_gaussian(q, sigma, 8.0));
      EXPECT_LT(rdp_poisson_gaussian(q * 0.9, sigma, 8.5), rdp_poisson_gaussian(q, sigma, 8.5));
    }
  }
}

}  // namespace
}  // namespace fedlora::privacy
