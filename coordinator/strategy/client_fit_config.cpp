#include "coordinator/strategy/client_fit_config.h"

#include <cmath>
#include <string>

#include "coordinator/strategy/errors.h"

namespace fedlora::coordinator {

void FedProxConfig::validate() const {
  if (!std::isfinite(mu) || mu < 0) {
    throw StrategyConfigError("fedprox: mu = " + std::to_string(mu) +
                              " must be finite and >= 0 (0 disables the proximal term)");
  }
}

double ClientFitConfig::weight(std::int64_t num_examples) const {
  return client_weight(weighting, weight_cap_examples, num_examples);
}

}  // namespace fedlora::coordinator
