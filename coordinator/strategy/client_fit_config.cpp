#include "coordinator/strategy/client_fit_config.h"

#include <cmath>
#include <string>

#include "coordinator/protocol/errors.h"
#include "coordinator/strategy/errors.h"

namespace fedlora::coordinator {

void FedProxConfig::validate() const {
  if (!std::isfinite(mu) || mu < 0) {
    throw StrategyConfigError("fedprox: mu = " + std::to_string(mu) +
                              " must be finite and >= 0 (0 disables the proximal term)");
  }
}

double ClientFitConfig::weight(std::int64_t num_examples) const {
  try {
    return protocol::client_weight(weighting, weight_cap_examples, num_examples);
  } catch (const protocol::ProtocolError& e) {
    throw StrategyConfigError(e.what());
  }
}

}  // namespace fedlora::coordinator
