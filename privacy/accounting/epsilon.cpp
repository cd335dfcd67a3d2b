#include "privacy/accounting/epsilon.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "privacy/accounting/rdp.h"
#include "privacy/errors.h"

namespace fedlora::privacy {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

void check_curve(std::span<const double> orders, std::span<const double> rdp) {
  validate_orders(orders);
  if (orders.size() != rdp.size()) {
    throw InvalidPrivacyParameter("RDP to (eps, delta): " + std::to_string(orders.size()) +
                                  " orders but " + std::to_string(rdp.size()) +
                                  " RDP values; they must be the same length");
  }
  for (double r : rdp) {
    if (std::isnan(r)) {
      throw InvalidPrivacyParameter("RDP to (eps, delta): an RDP value is NaN; the "
                                    "accountant state is invalid");
    }
  }
}

}  // namespace

EpsilonResult epsilon_from_rdp(std::span<const double> orders, std::span<const double> rdp,
                               double delta) {
  check_curve(orders, rdp);
  if (!(delta > 0.0 && delta < 1.0)) {
    throw InvalidPrivacyParameter("epsilon_from_rdp: delta = " + std::to_string(delta) +
                                  " must be in (0, 1)");
  }
  EpsilonResult best{kInf, orders[0]};
  for (std::size_t i = 0; i < orders.size(); ++i) {
    const double a = orders[i];
    const double r = std::max(rdp[i], 0.0);  // negative only through rounding
    double eps;
    if (std::isinf(r)) {
      eps = kInf;
    } else if (delta * delta + std::expm1(-r) >= 0.0) {
      eps = 0.0;  // KL bound
    } else if (std::isinf(a)) {
      eps = r;  // pure DP
    } else if (a > 1.01) {
      eps = r + std::log1p(-1.0 / a) - std::log(delta * a) / (a - 1.0);
    } else {
      eps = kInf;
    }
    if (eps < best.epsilon) best = {eps, a};
  }
  best.epsilon = std::max(best.epsilon, 0.0);
  return best;
}

DeltaResult delta_from_rdp(std::span<const double> orders, std::span<const double> rdp,
                           double epsilon) {
  check_curve(orders, rdp);
  if (!(epsilon >= 0.0)) {
    throw InvalidPrivacyParameter("delta_from_rdp: epsilon = " + std::to_string(epsilon) +
                                  " must be >= 0");
  }
  double best_log_delta = kInf;
  double best_order = orders[0];
  for (std::size_t i = 0; i < orders.size(); ++i) {
    const double a = orders[i];
    const double r = std::max(rdp[i], 0.0);
    double log_delta;
    if (std::isinf(r)) {
      log_delta = 0.0;  // δ = 1
    } else {
      log_delta = r == 0.0 ? -kInf : 0.5 * std::log(-std::expm1(-r));  // KL bound
      if (std::isinf(a)) {
        if (r <= epsilon) log_delta = -kInf;  // pure ε-DP with ε ≤ target
      } else if (a > 1.01) {
        const double bound =
            (a - 1.0) * (r - epsilon + std::log1p(-1.0 / a)) - std::log(a);
        log_delta = std::min(log_delta, bound);
      }
    }
    if (log_delta < best_log_delta) {
      best_log_delta = log_delta;
      best_order = a;
    }
  }
  return {std::min(std::exp(best_log_delta), 1.0), best_order};
}

}  // namespace fedlora::privacy
