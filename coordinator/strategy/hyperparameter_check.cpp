#include "coordinator/strategy/hyperparameter_check.h"

#include <cmath>
#include <string>

#include "coordinator/strategy/errors.h"

namespace fedlora::coordinator::detail {

void require_dimension(std::string_view optimizer, Eigen::Index dimension) {
  if (dimension < 1) {
    throw StrategyConfigError(std::string(optimizer) + ": dimension " + std::to_string(dimension) +
                              " must be >= 1 (the flat adapter length)");
  }
}

void require_positive(std::string_view optimizer, std::string_view param, double value) {
  if (!std::isfinite(value) || value <= 0) {
    throw StrategyConfigError(std::string(optimizer) + ": " + std::string(param) + " = " +
                              std::to_string(value) + " must be finite and > 0");
  }
}

void require_unit_interval(std::string_view optimizer, std::string_view param, double value) {
  if (!std::isfinite(value) || value < 0 || value >= 1) {
    throw StrategyConfigError(std::string(optimizer) + ": " + std::string(param) + " = " +
                              std::to_string(value) + " must be in [0, 1)");
  }
}

}  // namespace fedlora::coordinator::detail
