#include "privacy/sampling/poisson_sampler.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "privacy/errors.h"

namespace fedlora::privacy {

std::vector<std::int64_t> poisson_sample(std::int64_t n, double q, NoiseSource& rng) {
  if (n < 0) {
    throw InvalidPrivacyParameter("poisson_sample: population size " + std::to_string(n) +
                                  " is negative");
  }
  if (!(q >= 0.0 && q <= 1.0)) {
    throw InvalidPrivacyParameter("poisson_sample: sampling rate " + std::to_string(q) +
                                  " is outside [0, 1]");
  }
  std::vector<std::int64_t> chosen;
  // Binomial(n, q) rarely exceeds its mean by 10 % plus a little; a guess, not a limit.
  const double expected = static_cast<double>(n) * q;
  chosen.reserve(static_cast<std::size_t>(std::min(static_cast<double>(n), expected * 1.1 + 16)));
  for (std::int64_t i = 0; i < n; ++i) {
    if (rng.uniform() < q) chosen.push_back(i);
  }
  return chosen;
}

}  // namespace fedlora::privacy
