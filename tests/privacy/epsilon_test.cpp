// (ε, δ) from RDP against TensorFlow Privacy's published DP-SGD numbers, dp_accounting's
// hand-computed vectors, and the closed form.
#include "privacy/accounting/epsilon.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "privacy/accounting/rdp.h"
#include "privacy/errors.h"

namespace fedlora::privacy {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// The orders of tensorflow_privacy/privacy/analysis/compute_dp_sgd_privacy_lib.py.
std::vector<double> tf_dp_sgd_orders() {
  std::vector<double> o = {1.25, 1.5, 1.75, 2., 2.25, 2.5, 3., 3.5, 4., 4.5};
  for (int a = 5; a < 64; ++a) o.push_back(a);
  for (double a : {128.0, 256.0, 512.0}) o.push_back(a);
  return o;
}

EpsilonResult dp_sgd_epsilon(std::int64_t n, std::int64_t batch, double sigma, double epochs,
                             double delta) {
  const double q = static_cast<double>(batch) / static_cast<double>(n);
  const auto steps = static_cast<std::int64_t>(std::ceil(epochs * n / batch));
  const auto orders = tf_dp_sgd_orders();
  return epsilon_from_rdp(orders, compute_rdp(q, sigma, steps, orders), delta);
}

TEST(Epsilon, TfPrivacyDpSgdMnist) {
  // compute_dp_sgd_privacy_test 'Test0': 60000 examples, batch 150, σ 1.3, 15 epochs.
  const EpsilonResult r = dp_sgd_epsilon(60000, 150, 1.3, 15, 1e-5);
  EXPECT_NEAR(r.epsilon, 0.7242234026109595, 1e-9);
  EXPECT_EQ(r.optimal_order, 19.0);
}

TEST(Epsilon, TfPrivacyDpSgdLargeDataset) {
  // 'Test1': 100000 examples, batch 100, σ 1.0, 30 epochs, δ 1e-7.
  const EpsilonResult r = dp_sgd_epsilon(100000, 100, 1.0, 30, 1e-7);
  EXPECT_NEAR(r.epsilon, 1.4154988495444845, 1e-9);
  EXPECT_EQ(r.optimal_order, 13.0);
}

TEST(Epsilon, TfPrivacyDpSgdTinyNoiseUsesFractionalOrder) {
  // 'Test2': 1e8 examples, batch 1024, σ 0.1, 10 epochs, δ 1e-7 — optimum at α = 1.25.
  const EpsilonResult r = dp_sgd_epsilon(100000000, 1024, 0.1, 10, 1e-7);
  EXPECT_NEAR(r.epsilon, 5907982.31138195, 5907982.31138195 * 1e-9);
  EXPECT_EQ(r.optimal_order, 1.25);
}

TEST(Epsilon, TfPrivacyExamplePrivacyWithDefaultOrders) {
  // compute_dp_sgd_privacy_test test_compute_dp_sgd_example_privacy (RDP rows): 1.2 epochs,
  // σ 0.7 (0.35 with microbatching, which doubles the sensitivity), δ 1e-5, dp_accounting's
  // default orders (= default_orders()). Optima at fractional orders 4.4, 1.6, 3.3, 2.1.
  struct Case {
    double q, sigma;
    std::int64_t steps;
    double epsilon;
  };
  const Case cases[] = {{0.01, 0.7, 120, 3.2391922}, {0.01, 0.35, 120, 22.5970358},
                        {1.0, 0.7, 2, 10.8602036},   {1.0, 0.35, 2, 26.2880374}};
  const auto orders = default_orders();
  for (const auto& c : cases) {
    const auto r = epsilon_from_rdp(orders, compute_rdp(c.q, c.sigma, c.steps, orders), 1e-5);
    EXPECT_NEAR(r.epsilon, c.epsilon, 0.5e-7) << c.q << " " << c.sigma;
  }
  // compute_dp_sgd_privacy_statement: 10000 examples, batch 64, 5 epochs, σ 2.0 with
  // microbatching (effective 1.0), δ 1e-6, "Epsilon assuming Poisson sampling: 1.616".
  const auto r = epsilon_from_rdp(orders, compute_rdp(64.0 / 10000, 1.0, 782, orders), 1e-6);
  EXPECT_NEAR(r.epsilon, 1.616, 0.5e-3);
}

TEST(Epsilon, PureDpCurveMatchesHandComputation) {
  // dp_accounting test_compute_epsilon_delta_pure_dp: orders 2..32, RDP 1.1 everywhere.
  std::vector<double> orders, rdp;
  for (int a = 2; a <= 32; ++a) {
    orders.push_back(a);
    rdp.push_back(1.1);
  }
  const EpsilonResult e = epsilon_from_rdp(orders, rdp, 1e-5);
  // By hand at α = 32: 1.1 + log(31/32) − (log(1e-5) + log 32)/31.
  const double by_hand = 1.1 + std::log(31.0 / 32.0) - (std::log(1e-5) + std::log(32.0)) / 31.0;
  EXPECT_NEAR(e.epsilon, 1.32783806176, 1e-10);
  EXPECT_NEAR(e.epsilon, by_hand, 1e-14);
  EXPECT_EQ(e.optimal_order, 32.0);

  const DeltaResult d = delta_from_rdp(orders, rdp, 1.32783806176);
  EXPECT_NEAR(d.delta, 1e-5, 1e-14);
  EXPECT_EQ(d.optimal_order, 32.0);
}

TEST(Epsilon, GaussianMechanismCalibratedToOneAtOneInAMillion) {
  // dp_accounting test_compute_epsilon_delta_gaussian: σ = 4.530877117 (q = 1), orders
  // 1.001 … 99.999 (step 0.001) → ε = 1 at δ = 1e-6, and back.
  std::vector<double> orders;
  for (int i = 1001; i < 100000; ++i) orders.push_back(0.001 * i);
  const auto rdp = compute_rdp(1.0, 4.530877117, 1, orders);
  EXPECT_NEAR(epsilon_from_rdp(orders, rdp, 1e-6).epsilon, 1.0, 1e-7);
  EXPECT_NEAR(delta_from_rdp(orders, rdp, 1.0).delta, 1e-6, 1e-7);
}

TEST(Epsilon, RoundTripsThroughDelta) {
  const auto orders = default_orders();
  for (double q : {0.01, 0.1, 0.8}) {
    for (double sigma : {0.7, 1.0, 4.0}) {
      const auto rdp = compute_rdp(q, sigma, 100, orders);
      for (double delta : {1e-3, 1e-5, 1e-9}) {
        const EpsilonResult e = epsilon_from_rdp(orders, rdp, delta);
        if (e.epsilon == 0.0) continue;
        EXPECT_NEAR(delta_from_rdp(orders, rdp, e.epsilon).delta, delta, delta * 1e-9)
            << q << " " << sigma << " " << delta;
      }
    }
  }
}

TEST(Epsilon, KlBoundGivesZeroForNegligibleRdp) {
  const double orders[] = {2.0, 8.0};
  const double rdp[] = {1e-12, 4e-12};  // δ² = 1e-10 ≥ 1 − e^{−1e-12}
  EXPECT_EQ(epsilon_from_rdp(orders, rdp, 1e-5).epsilon, 0.0);
}

TEST(Epsilon, InfiniteOrderIsPureDp) {
  const double orders[] = {kInf};
  const double rdp[] = {0.5};
  const EpsilonResult e = epsilon_from_rdp(orders, rdp, 1e-5);
  EXPECT_EQ(e.epsilon, 0.5);
  EXPECT_EQ(e.optimal_order, kInf);
}

TEST(Epsilon, InfiniteEverywhereIsInfinite) {
  const double orders[] = {2.0, kInf};
  const double rdp[] = {kInf, kInf};
  EXPECT_EQ(epsilon_from_rdp(orders, rdp, 1e-5).epsilon, kInf);
  EXPECT_EQ(delta_from_rdp(orders, rdp, 3.0).delta, 1.0);
}

TEST(Epsilon, RejectsInvalidInput) {
  const double orders[] = {2.0, 4.0};
  const double rdp[] = {0.1, 0.2};
  const double short_rdp[] = {0.1};
  const double nan_rdp[] = {0.1, std::nan("")};
  EXPECT_THROW(epsilon_from_rdp(orders, rdp, 0.0), InvalidPrivacyParameter);
  EXPECT_THROW(epsilon_from_rdp(orders, rdp, 1.0), InvalidPrivacyParameter);
  EXPECT_THROW(epsilon_from_rdp(orders, short_rdp, 1e-5), InvalidPrivacyParameter);
  EXPECT_THROW(epsilon_from_rdp(orders, nan_rdp, 1e-5), InvalidPrivacyParameter);
  EXPECT_THROW(delta_from_rdp(orders, rdp, -1.0), InvalidPrivacyParameter);
}

}  // namespace
}  // namespace fedlora::privacy
