// Log-space helpers against direct computation where it does not underflow, and against
// known asymptotics where it does.
#include "privacy/accounting/log_math.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace fedlora::privacy::logmath {
namespace {

TEST(LogMath, LogAddMatchesDirectSum) {
  EXPECT_NEAR(log_add(std::log(2.0), std::log(3.0)), std::log(5.0), 1e-15);
  EXPECT_EQ(log_add(kLogZero, 1.25), 1.25);
  EXPECT_EQ(log_add(1.25, kLogZero), 1.25);
  // Far apart: exp(1000) + exp(0) = exp(1000) to double precision, no overflow.
  EXPECT_DOUBLE_EQ(log_add(1000.0, 0.0), 1000.0);
  EXPECT_NEAR(log_add(-1000.0, -1000.0), -1000.0 + std::log(2.0), 1e-12);
}

TEST(LogMath, SignedAddHandlesCancellationAndSigns) {
  // 5 − 3 = 2
  SignedLog r = signed_log_add({std::log(5.0), false}, {std::log(3.0), true});
  EXPECT_FALSE(r.negative);
  EXPECT_NEAR(r.log_abs, std::log(2.0), 1e-15);
  // 3 − 5 = −2
  r = signed_log_add({std::log(3.0), false}, {std::log(5.0), true});
  EXPECT_TRUE(r.negative);
  EXPECT_NEAR(r.log_abs, std::log(2.0), 1e-15);
  // −3 − 5 = −8
  r = signed_log_add({std::log(3.0), true}, {std::log(5.0), true});
  EXPECT_TRUE(r.negative);
  EXPECT_NEAR(r.log_abs, std::log(8.0), 1e-15);
  // x − x = 0
  r = signed_log_add({0.7, false}, {0.7, true});
  EXPECT_EQ(r.log_abs, kLogZero);
  // 0 + (−4)
  r = signed_log_add({}, {std::log(4.0), true});
  EXPECT_TRUE(r.negative);
  EXPECT_NEAR(r.log_abs, std::log(4.0), 1e-15);
}

TEST(LogMath, LogErfcMatchesErfcWhereRepresentable) {
  for (double x : {-5.0, -1.0, 0.0, 0.5, 3.0, 10.0, 19.9, 20.0, 20.1, 25.0, 26.0}) {
    const double direct = std::log(std::erfc(x));
    EXPECT_NEAR(log_erfc(x), direct, 1e-12 * std::max(1.0, std::fabs(direct))) << x;
  }
}

TEST(LogMath, LogErfcFarTailFollowsAsymptote) {
  // erfc(x) ~ exp(−x²)/(x√π) (1 − 1/(2x²) + ...): at x = 1000 the correction is 5e-7.
  const double x = 1000.0;
  const double leading = -x * x - std::log(x) - 0.5 * std::log(M_PI);
  EXPECT_NEAR(log_erfc(x), leading + std::log1p(-1.0 / (2 * x * x)), 1e-9);
  EXPECT_TRUE(std::isfinite(log_erfc(1e6)));
}

TEST(LogMath, BinomialIntegerMatchesPascal) {
  // Pascal's triangle row 20 computed by additions only.
  double row[21] = {1.0};
  for (int n = 1; n <= 20; ++n) {
    for (int k = n; k >= 1; --k) row[k] += row[k - 1];
  }
  for (int k = 0; k <= 20; ++k) {
    const SignedLog b = log_binomial(20.0, k);
    EXPECT_FALSE(b.negative);
    EXPECT_NEAR(std::exp(b.log_abs), row[k], row[k] * 1e-13) << k;
  }
  EXPECT_EQ(log_binomial(20.0, 21).log_abs, kLogZero);  // C(20, 21) = 0
}

TEST(LogMath, BinomialFractionalMatchesProductDefinition) {
  // C(a, k) = a(a−1)…(a−k+1)/k!, signs alternate once k > a.
  const double a = 2.5;
  double direct = 1.0;
  for (int k = 0; k <= 12; ++k) {
    if (k > 0) direct *= (a - (k - 1)) / k;
    const SignedLog b = log_binomial(a, k);
    EXPECT_EQ(b.negative, direct < 0) << k;
    EXPECT_NEAR(std::exp(b.log_abs), std::fabs(direct), std::fabs(direct) * 1e-13) << k;
  }
}

}  // namespace
}  // namespace fedlora::privacy::logmath
