#pragma once
// Range checks for server-optimizer hyperparameters. Internal to the library.

#include <Eigen/Core>
#include <string_view>

namespace fedlora::coordinator::detail {

/// Each throws StrategyConfigError naming `optimizer`, the parameter and its allowed range.
void require_dimension(std::string_view optimizer, Eigen::Index dimension);
void require_positive(std::string_view optimizer, std::string_view param, double value);
void require_unit_interval(std::string_view optimizer, std::string_view param, double value);  // [0, 1)

}  // namespace fedlora::coordinator::detail
