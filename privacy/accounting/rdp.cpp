#include "privacy/accounting/rdp.h"

#include <cmath>
#include <numbers>
#include <string>

#include "privacy/accounting/log_math.h"
#include "privacy/errors.h"

namespace fedlora::privacy {
namespace {

using logmath::kLogZero;
using logmath::log_add;
using logmath::log_binomial;
using logmath::log_erfc;
using logmath::SignedLog;
using logmath::signed_log_add;

constexpr std::int64_t kMaxFractionalTerms = 20000;

bool is_integer_order(double order) {
  return order == std::floor(order) && order < 9.0e15;
}

void check_q_sigma(double q, double noise_multiplier) {
  if (!(q >= 0.0 && q <= 1.0)) {
    throw InvalidPrivacyParameter("RDP accountant: sampling rate q = " + std::to_string(q) +
                                  " is outside [0, 1]; pass the per-step inclusion "
                                  "probability (e.g. expected batch / dataset size)");
  }
  if (!(noise_multiplier >= 0.0) || std::isinf(noise_multiplier)) {
    throw InvalidPrivacyParameter("RDP accountant: noise multiplier " +
                                  std::to_string(noise_multiplier) +
                                  " must be finite and >= 0");
  }
}

// Mironov, Talwar, Zhang 2019, §3.2: all terms positive.
double log_a_int(double q, double sigma, std::int64_t alpha) {
  const double log_q = std::log(q);
  const double log_1mq = std::log1p(-q);
  const double inv_2s2 = 1.0 / (2.0 * sigma * sigma);
  double log_a = kLogZero;
  for (std::int64_t i = 0; i <= alpha; ++i) {
    const double di = static_cast<double>(i);
    const double term = log_binomial(static_cast<double>(alpha), i).log_abs + di * log_q +
                        static_cast<double>(alpha - i) * log_1mq + (di * di - di) * inv_2s2;
    log_a = log_add(log_a, term);
  }
  return log_a;
}

// Mironov, Talwar, Zhang 2019, §3.3. The two halves of the integral (z ≤ z0 and z ≥ z0)
// are binomial series in erfc terms whose coefficients C(α, i) alternate in sign once
// i > α. The signed sum is the exact value; the sum of magnitudes bounds it from above and
// is used only if the signed sum cancels to a non-positive number (A_α ≥ 1 always).
double log_a_frac(double q, double sigma, double alpha) {
  const double log_q = std::log(q);
  const double log_1mq = std::log1p(-q);
  const double inv_2s2 = 1.0 / (2.0 * sigma * sigma);
  const double z0 = sigma * sigma * std::log(1.0 / q - 1.0) + 0.5;
  const double sqrt2_sigma = std::numbers::sqrt2 * sigma;
  const double log_half = std::log(0.5);

  SignedLog a0, a1;                       // signed halves
  double abs0 = kLogZero, abs1 = kLogZero;  // magnitudes, for convergence and fallback
  double last_s0 = kLogZero, last_s1 = kLogZero;
  for (std::int64_t i = 0; i < kMaxFractionalTerms; ++i) {
    const SignedLog coef = log_binomial(alpha, i);
    const double di = static_cast<double>(i);
    const double j = alpha - di;
    const double log_t0 = coef.log_abs + di * log_q + j * log_1mq;
    const double log_t1 = coef.log_abs + j * log_q + di * log_1mq;
    const double log_e0 = log_half + log_erfc((di - z0) / sqrt2_sigma);
    const double log_e1 = log_half + log_erfc((z0 - j) / sqrt2_sigma);
    const double log_s0 = log_t0 + (di * di - di) * inv_2s2 + log_e0;
    const double log_s1 = log_t1 + (j * j - j) * inv_2s2 + log_e1;

    a0 = signed_log_add(a0, {log_s0, coef.negative});
    a1 = signed_log_add(a1, {log_s1, coef.negative});
    abs0 = log_add(abs0, log_s0);
    abs1 = log_add(abs1, log_s1);

    const double total_abs = log_add(abs0, abs1);
    // Stop once both series are decreasing and their terms are e^-30 below the total.
    if (di > alpha && log_s0 < last_s0 && log_s1 < last_s1 &&
        std::max(log_s0, log_s1) < total_abs - 30.0) {
      const SignedLog total = signed_log_add(a0, a1);
      if (!total.negative && std::isfinite(total.log_abs)) return total.log_abs;
      return total_abs;  // catastrophic cancellation: use the upper bound
    }
    last_s0 = log_s0;
    last_s1 = log_s1;
  }
  return std::numeric_limits<double>::infinity();  // did not converge: trivial bound
}

}  // namespace

std::vector<double> default_orders() {
  std::vector<double> orders;
  orders.reserve(156);
  for (int k = 11; k <= 109; ++k) orders.push_back(k / 10.0);  // exact decimal rounding
  for (int a = 11; a <= 63; ++a) orders.push_back(a);
  for (double a : {128.0, 256.0, 512.0, 1024.0}) orders.push_back(a);
  return orders;
}

void validate_orders(std::span<const double> orders) {
  if (orders.empty()) {
    throw InvalidPrivacyParameter("RDP accountant: the list of orders is empty; pass at "
                                  "least one order > 1 (e.g. default_orders())");
  }
  for (double a : orders) {
    if (!(a > 1.0)) {
      throw InvalidPrivacyParameter("RDP accountant: order " + std::to_string(a) +
                                    " is not > 1; RDP orders must be in (1, +inf]");
    }
  }
}

double log_a_sampled_gaussian(double q, double noise_multiplier, double order) {
  if (!(q > 0.0 && q < 1.0) || !(noise_multiplier > 0.0) || !(order > 1.0) ||
      std::isinf(order)) {
    throw InvalidPrivacyParameter(
        "log_a_sampled_gaussian: needs 0 < q < 1, sigma > 0 and a finite order > 1");
  }
  return is_integer_order(order)
             ? log_a_int(q, noise_multiplier, static_cast<std::int64_t>(order))
             : log_a_frac(q, noise_multiplier, order);
}

double rdp_poisson_gaussian(double q, double noise_multiplier, double order) {
  check_q_sigma(q, noise_multiplier);
  const double orders[1] = {order};
  validate_orders(orders);
  if (q == 0.0) return 0.0;
  if (noise_multiplier == 0.0 || std::isinf(order)) {
    return std::numeric_limits<double>::infinity();
  }
  if (q == 1.0) return order / (2.0 * noise_multiplier * noise_multiplier);
  const double rdp = log_a_sampled_gaussian(q, noise_multiplier, order) / (order - 1.0);
  // A_α ≥ 1 mathematically; rounding can give −1e-17. RDP is a divergence, so clamp at 0.
  return rdp < 0.0 ? 0.0 : rdp;
}

std::vector<double> compute_rdp(double q, double noise_multiplier, std::int64_t steps,
                                std::span<const double> orders) {
  check_q_sigma(q, noise_multiplier);
  validate_orders(orders);
  if (steps < 0) {
    throw InvalidPrivacyParameter("RDP accountant: steps = " + std::to_string(steps) +
                                  " is negative");
  }
  std::vector<double> rdp;
  rdp.reserve(orders.size());
  for (double a : orders) {
    const double one = rdp_poisson_gaussian(q, noise_multiplier, a);
    // 0 · ∞ would be NaN: zero steps spend nothing.
    rdp.push_back(steps == 0 ? 0.0 : one * static_cast<double>(steps));
  }
  return rdp;
}

}  // namespace fedlora::privacy
