#include "secure-agg/hypergeometric.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "secure-agg/errors.h"

namespace fedlora::secagg {
namespace {
double log_choose(double n, double k) {
  return std::lgamma(n + 1) - std::lgamma(k + 1) - std::lgamma(n - k + 1);
}
}  // namespace

Hypergeometric::Hypergeometric(std::uint32_t total, std::uint32_t marked, std::uint32_t draws)
    : total_(total), marked_(marked), draws_(draws) {
  if (marked > total || draws > total) {
    throw ConfigError("hypergeometric: marked (" + std::to_string(marked) + ") and draws (" +
                      std::to_string(draws) + ") must not exceed total (" + std::to_string(total) + ")");
  }
}

std::int64_t Hypergeometric::support_min() const {
  return std::max<std::int64_t>(0, std::int64_t{draws_} + marked_ - total_);
}

std::int64_t Hypergeometric::support_max() const { return std::min(draws_, marked_); }

double Hypergeometric::pmf(std::int64_t x) const {
  if (x < support_min() || x > support_max()) return 0.0;
  const double xd = static_cast<double>(x);
  return std::exp(log_choose(marked_, xd) + log_choose(double(total_) - marked_, double(draws_) - xd) -
                  log_choose(total_, draws_));
}

double Hypergeometric::cdf(std::int64_t x) const {
  double s = 0.0;
  for (std::int64_t i = support_min(); i <= std::min(x, support_max()); ++i) s += pmf(i);
  return std::min(s, 1.0);
}

double Hypergeometric::sf(std::int64_t x) const {
  double s = 0.0;
  for (std::int64_t i = std::max(x + 1, support_min()); i <= support_max(); ++i) s += pmf(i);
  return std::min(s, 1.0);
}

}  // namespace fedlora::secagg
