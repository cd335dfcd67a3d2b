#include "coordinator/strategy/optimizer_state_check.h"

#include <cmath>
#include <string>

#include "coordinator/strategy/errors.h"

namespace fedlora::coordinator::detail {

std::int64_t check_state(const OptimizerState& state, std::string_view optimizer,
                         Eigen::Index dimension, std::initializer_list<std::string_view> vector_names) {
  const std::string where = "restore(" + std::string(optimizer) + "): ";
  if (state.optimizer != optimizer) {
    throw OptimizerStateError(where + "state belongs to optimizer '" + state.optimizer +
                              "'; restore it into that optimizer or start fresh");
  }
  if (state.vectors.size() != vector_names.size()) {
    throw OptimizerStateError(where + "expected " + std::to_string(vector_names.size()) +
                              " state vectors, got " + std::to_string(state.vectors.size()));
  }
  for (std::string_view name : vector_names) {
    auto it = state.vectors.find(std::string(name));
    if (it == state.vectors.end()) {
      throw OptimizerStateError(where + "state vector '" + std::string(name) + "' is missing");
    }
    if (it->second.size() != dimension) {
      throw OptimizerStateError(where + "state vector '" + std::string(name) + "' has " +
                                std::to_string(it->second.size()) + " entries, expected " +
                                std::to_string(dimension));
    }
    if (!it->second.allFinite()) {
      throw OptimizerStateError(where + "state vector '" + std::string(name) +
                                "' has a non-finite entry");
    }
  }
  if (state.scalars.size() != 1 || !state.scalars.contains("step")) {
    throw OptimizerStateError(where + "expected exactly the scalar 'step'");
  }
  const double step = state.scalars.at("step");
  if (!std::isfinite(step) || step < 0 || step != std::floor(step) || step > 9.0e15) {
    throw OptimizerStateError(where + "step " + std::to_string(step) +
                              " is not a non-negative integer");
  }
  return static_cast<std::int64_t>(step);
}

void check_apply_inputs(std::string_view optimizer, Eigen::Index dimension,
                        const Eigen::Ref<Eigen::VectorXf>& theta,
                        const Eigen::Ref<const Eigen::VectorXd>& pseudo_gradient) {
  const std::string where = std::string(optimizer) + ".apply: ";
  if (theta.size() != dimension || pseudo_gradient.size() != dimension) {
    throw InvalidAggregateError(where + "theta has " + std::to_string(theta.size()) +
                                " entries and the pseudo-gradient " +
                                std::to_string(pseudo_gradient.size()) + ", expected " +
                                std::to_string(dimension) + " (the optimizer's dimension)");
  }
  if (!theta.allFinite()) throw InvalidAggregateError(where + "theta has a non-finite entry");
  if (!pseudo_gradient.allFinite()) {
    throw InvalidAggregateError(where + "the pseudo-gradient has a non-finite entry");
  }
}

void check_result_finite(std::string_view optimizer, std::string_view what,
                         const Eigen::VectorXf& v) {
  if (!v.allFinite()) {
    throw InvalidAggregateError(std::string(optimizer) + ".apply: the step would make " +
                                std::string(what) +
                                " non-finite (float32 overflow); step rejected, state unchanged");
  }
}

}  // namespace fedlora::coordinator::detail
