#pragma once
// Validation shared by the server optimizers' restore() and apply(). Internal to the library.

#include <Eigen/Core>
#include <cstdint>
#include <initializer_list>
#include <string_view>

#include "coordinator/strategy/server_optimizer.h"

namespace fedlora::coordinator::detail {

/// Checks optimizer name, that `vectors` has exactly `vector_names` (each [dimension], finite)
/// and `scalars` exactly "step" (finite, integral, >= 0). Returns the step.
/// Throws OptimizerStateError naming the problem.
std::int64_t check_state(const OptimizerState& state, std::string_view optimizer,
                         Eigen::Index dimension, std::initializer_list<std::string_view> vector_names);

/// Checks theta and Δ̄ sizes against `dimension` and that both are finite.
/// Throws InvalidAggregateError.
void check_apply_inputs(std::string_view optimizer, Eigen::Index dimension,
                        const Eigen::Ref<Eigen::VectorXf>& theta,
                        const Eigen::Ref<const Eigen::VectorXd>& pseudo_gradient);

/// Throws InvalidAggregateError if `v` has a non-finite entry (result of a step overflowed).
void check_result_finite(std::string_view optimizer, std::string_view what, const Eigen::VectorXf& v);

}  // namespace fedlora::coordinator::detail
