// DP-FTRL tree-aggregation accounting against TensorFlow Privacy's published test values
// (tensorflow_privacy/privacy/analysis/tree_aggregation_accountant_test.py, cited per test),
// a brute-force enumeration of participation placements, and closed forms.
#include "privacy/accounting/tree_aggregation_accountant.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "privacy/accounting/epsilon.h"
#include "privacy/accounting/rdp.h"
#include "privacy/errors.h"

namespace fedlora::privacy {
namespace {

// TF Privacy's orders in tree_aggregation_accountant_test.py:
// [1 + x / 10. for x in range(1, 100)] + list(range(12, 64)).
std::vector<double> tf_tree_orders() {
  std::vector<double> o;
  for (int x = 1; x < 100; ++x) o.push_back(1 + x / 10.0);
  for (int a = 12; a < 64; ++a) o.push_back(a);
  return o;
}

TEST(TreeAccounting, DepthAndRestartSchedule) {
  EXPECT_EQ(tree_depth(0), 0);
  EXPECT_EQ(tree_depth(1), 1);
  EXPECT_EQ(tree_depth(2), 2);
  EXPECT_EQ(tree_depth(3), 2);
  EXPECT_EQ(tree_depth(4), 3);
  EXPECT_EQ(tree_depth(1600), 11);  // 1024 ≤ 1600 < 2048
  EXPECT_EQ(restart_schedule(10, 4), (std::vector<std::int64_t>{4, 4, 2}));
  EXPECT_EQ(restart_schedule(8, 4), (std::vector<std::int64_t>{4, 4}));
  EXPECT_EQ(restart_schedule(0, 5), (std::vector<std::int64_t>{0}));
  EXPECT_THROW(restart_schedule(10, 0), InvalidPrivacyParameter);
  EXPECT_THROW(tree_depth(-1), InvalidPrivacyParameter);
}

// TF test_max_tree_sensitivity_square_sum_toy: (P, B, steps) → expected, including
// ('test4', 8, 2, 24, 88), the paper's example where the worst case beats the greedy one.
TEST(TreeAccounting, SensitivitySquareSumToyValues) {
  EXPECT_EQ(tree_sensitivity_square_sum(1, 7, 8), 4);
  EXPECT_EQ(tree_sensitivity_square_sum(3, 3, 9), 11);
  EXPECT_EQ(tree_sensitivity_square_sum(3, 2, 7), 9);
  EXPECT_EQ(tree_sensitivity_square_sum(8, 2, 24), 88);
}

// TF test_max_tree_sensitivity_square_sum_every_step: P = steps, B = 0; each full subtree of
// depth d in the binary decomposition contributes Σ_levels 2^(d−ℓ)·(2^ℓ)² = 2^d(2^(d+1) − 1).
TEST(TreeAccounting, SensitivitySquareSumEveryStep) {
  for (std::int64_t steps : {3, 8, 11, 19}) {
    std::int64_t expected = 0;
    for (int d = 0; d < 63; ++d) {
      if ((steps >> d) & 1) expected += (std::int64_t{1} << d) * ((std::int64_t{1} << (d + 1)) - 1);
    }
    EXPECT_EQ(tree_sensitivity_square_sum(steps, 0, steps), expected) << steps;
  }
  // TF test_max_tree_sensitivity_square_sum_every_step_part: 8 steps, P > 8 → 120.
  for (std::int64_t p : {11, 19, 200}) EXPECT_EQ(tree_sensitivity_square_sum(p, 0, 8), 120);
}

// TF test_max_tree_sensitivity_square_sum_every_step_part2: P = 2, B = 0 → 2 + 4·⌊log₂ steps⌋
// (the two participations are adjacent leaves of the deepest subtree).
TEST(TreeAccounting, SensitivitySquareSumTwoParticipations) {
  for (std::int64_t steps : {3, 8, 11, 19}) {
    const std::int64_t depth = std::bit_width(static_cast<std::uint64_t>(steps)) - 1;
    EXPECT_EQ(tree_sensitivity_square_sum(2, 0, steps), 2 + 4 * depth) << steps;
  }
}

// Slow reference: enumerate every placement and sum c² over the nodes of the tree of
// Kairouz et al. (a size-2^k block is a node over its leaves with two halves below it; any
// other size is a forest: a full block of the largest power of two, then the rest).
std::int64_t brute_force(std::int64_t p_max, std::int64_t sep, std::int64_t n) {
  std::vector<std::pair<std::int64_t, std::int64_t>> nodes;  // [lo, hi)
  std::function<void(std::int64_t, std::int64_t)> build = [&](std::int64_t lo, std::int64_t size) {
    if (size == 0) return;
    if (std::has_single_bit(static_cast<std::uint64_t>(size))) {
      nodes.emplace_back(lo, lo + size);
      if (size > 1) {
        build(lo, size / 2);
        build(lo + size / 2, size / 2);
      }
      return;
    }
    const auto left = static_cast<std::int64_t>(std::bit_floor(static_cast<std::uint64_t>(size)));
    build(lo, left);
    build(lo + left, size - left);
  };
  build(0, n);
  std::int64_t best = 0;
  std::vector<std::int64_t> chosen;
  std::function<void(std::int64_t)> place = [&](std::int64_t next) {
    if (!chosen.empty()) {
      std::int64_t s = 0;
      for (auto [lo, hi] : nodes) {
        std::int64_t c = 0;
        for (std::int64_t x : chosen) c += (x >= lo && x < hi);
        s += c * c;
      }
      best = std::max(best, s);
    }
    if (static_cast<std::int64_t>(chosen.size()) == p_max) return;
    for (std::int64_t x = next; x < n; ++x) {
      chosen.push_back(x);
      place(x + sep + 1);
      chosen.pop_back();
    }
  };
  place(0);
  return best;
}

TEST(TreeAccounting, SensitivitySquareSumMatchesBruteForce) {
  for (std::int64_t n = 1; n <= 13; ++n) {
    for (std::int64_t p = 1; p <= 4; ++p) {
      for (std::int64_t sep = 0; sep <= 3; ++sep) {
        EXPECT_EQ(tree_sensitivity_square_sum(p, sep, n), brute_force(p, sep, n))
            << "P=" << p << " B=" << sep << " n=" << n;
      }
    }
  }
  EXPECT_EQ(tree_sensitivity_square_sum(0, 0, 10), 0);
  EXPECT_EQ(tree_sensitivity_square_sum(3, 0, 0), 0);
}

TEST(TreeAccounting, OneParticipationIsTheDepth) {
  for (std::int64_t n = 1; n <= 70; ++n) {
    EXPECT_EQ(tree_sensitivity_square_sum(1, 0, n), tree_depth(n)) << n;
    EXPECT_EQ(tree_sensitivity_square_sum(1, 5, n), tree_depth(n)) << n;
  }
}

// TF test_no_tree_no_sampling: trees of one leaf each are T plain Gaussian mechanisms.
TEST(TreeAccounting, SingleLeafTreesAreGaussianComposition) {
  const auto orders = tf_tree_orders();
  for (auto [steps, sigma] : {std::pair{100, 0.1}, std::pair{1000, 0.01}}) {
    const std::vector<std::int64_t> list(static_cast<std::size_t>(steps), 1);
    const auto rdp = tree_restart_rdp(sigma, list, orders);
    for (std::size_t i = 0; i < orders.size(); ++i) {
      const double expected = steps * orders[i] / (2 * sigma * sigma);
      EXPECT_NEAR(rdp[i], expected, expected * 1e-12);
    }
  }
}

// TF test_compose_tree_rdp: restarts compose additively.
TEST(TreeAccounting, RestartsComposeAdditively) {
  const std::vector<double> order{2.0};
  for (const std::vector<std::int64_t>& list :
       {std::vector<std::int64_t>{400, 400, 400, 400}, std::vector<std::int64_t>{800, 800},
        std::vector<std::int64_t>{10, 400, 400, 400, 390}}) {
    double sum = 0;
    for (std::int64_t s : list) sum += tree_restart_rdp(0.1, std::vector<std::int64_t>{s}, order)[0];
    EXPECT_NEAR(tree_restart_rdp(0.1, list, order)[0], sum, sum * 1e-12);
    EXPECT_NEAR(tree_aggregation_rdp(0.1, list, 1, 0, order)[0], sum, sum * 1e-12);
  }
}

// TF test_compute_eps_tree, "based on the StackOverflow setting in Practical and Private
// (Deep) Learning without Sampling or Shuffling": 1600 steps in one restart-free tree,
// δ = 1e-6: σ = 1.13 → ε < 19.74, σ = 8.83 → ε < 2.04. The exact values (depth 11,
// rdp = 11α/(2σ²), Balle et al. 2020 conversion) from mpmath
// (tests/privacy/reference/tree_epsilon_mpmath.py) are 18.7096098937728 and 1.77319244961782.
TEST(TreeAccounting, StackOverflowSettingOfThePaper) {
  const auto orders = tf_tree_orders();
  const std::vector<std::int64_t> one_tree{1600};
  const EpsilonResult e20 = epsilon_from_rdp(orders, tree_restart_rdp(1.13, one_tree, orders), 1e-6);
  EXPECT_LT(e20.epsilon, 19.74);
  EXPECT_NEAR(e20.epsilon, 18.7096098937728, 1e-9);
  const EpsilonResult e2 = epsilon_from_rdp(orders, tree_restart_rdp(8.83, one_tree, orders), 1e-6);
  EXPECT_LT(e2.epsilon, 2.04);
  EXPECT_NEAR(e2.epsilon, 1.77319244961782, 1e-9);
  EXPECT_EQ(e2.optimal_order, 14.0);
}

// TF test_gaussian_zcdp_to_epsilon: zCDP ρ = 0.81 (the Gboard model of
// ai.googleblog.com/2022/02/federated-learning-with-formal.html) is ε ≈ 8.92 at δ = 1e-10
// with RDP conversion over the TF orders (mpmath: 8.92225807419046).
TEST(TreeAccounting, GboardZcdpToEpsilon) {
  const auto orders = tf_tree_orders();
  std::vector<double> rdp;
  for (double a : orders) rdp.push_back(0.81 * a);  // ρ-zCDP ⇒ (α, ρα)-RDP
  const EpsilonResult e = epsilon_from_rdp(orders, rdp, 1e-10);
  EXPECT_NEAR(e.epsilon, 8.92, 0.01);
  EXPECT_NEAR(e.epsilon, 8.92225807419046, 1e-9);
  // single_tree_zcdp: ρ = Σc²/(2σ²); one participation in 8 leaves: Σc² = 4 → 4/(2·4) = 0.5.
  EXPECT_DOUBLE_EQ(single_tree_zcdp(2.0, 8, 1, 0), 0.5);
  // 24 leaves, P = 8, B = 2: Σc² = 88 (toy value above) → 88/(2·0.25) = 176.
  EXPECT_DOUBLE_EQ(single_tree_zcdp(0.5, 24, 8, 2), 176.0);
}

TEST(TreeAccounting, EdgeCasesAndErrors) {
  const std::vector<double> orders{2.0, kInfiniteOrder};
  const std::vector<std::int64_t> list{8};
  const auto zero_noise = tree_restart_rdp(0.0, list, orders);
  EXPECT_TRUE(std::isinf(zero_noise[0]));
  const auto rdp = tree_restart_rdp(1.0, list, orders);
  EXPECT_DOUBLE_EQ(rdp[0], 2.0 * 4 / 2.0);
  EXPECT_TRUE(std::isinf(rdp[1]));  // α = ∞
  const std::vector<std::int64_t> empty_tree{0};
  EXPECT_EQ(tree_restart_rdp(1.0, empty_tree, orders)[0], 0.0);
  EXPECT_THROW(tree_restart_rdp(-1.0, list, orders), InvalidPrivacyParameter);
  EXPECT_THROW(tree_restart_rdp(1.0, std::vector<std::int64_t>{}, orders), InvalidPrivacyParameter);
  EXPECT_THROW(tree_restart_rdp(1.0, std::vector<std::int64_t>{-3}, orders),
               InvalidPrivacyParameter);
  EXPECT_THROW(tree_sensitivity_square_sum(-1, 0, 3), InvalidPrivacyParameter);
  EXPECT_THROW(tree_sensitivity_square_sum(1, -1, 3), InvalidPrivacyParameter);
  EXPECT_THROW(tree_sensitivity_square_sum(1, 0, -3), InvalidPrivacyParameter);
  EXPECT_THROW(single_tree_zcdp(-0.1, 3, 1, 1), InvalidPrivacyParameter);
}

}  // namespace
}  // namespace fedlora::privacy
