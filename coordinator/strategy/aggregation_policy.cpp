#include "coordinator/strategy/aggregation_policy.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "coordinator/protocol/errors.h"
#include "coordinator/strategy/errors.h"

namespace fedlora::coordinator {

std::string_view to_string(Denominator d) noexcept {
  switch (d) {
    case Denominator::kTotalWeight: return "total_weight";
    case Denominator::kFixedExpected: return "fixed_expected";
  }
  return "unknown";
}

AggregationPolicy AggregationPolicy::example_weighted() {
  return {Weighting::kExampleCount, Denominator::kTotalWeight, 0.0, 0.0};
}

AggregationPolicy AggregationPolicy::uniform() {
  return {Weighting::kUniform, Denominator::kTotalWeight, 0.0, 0.0};
}

AggregationPolicy AggregationPolicy::fixed_denominator_uniform() {
  return {Weighting::kUniform, Denominator::kFixedExpected, 0.0, 0.0};
}

AggregationPolicy AggregationPolicy::fixed_denominator_capped(double weight_cap_examples,
                                                              double expected_total_weight) {
  if (!std::isfinite(weight_cap_examples) || weight_cap_examples <= 0) {
    throw StrategyConfigError("aggregation: weight_cap_examples " +
                              std::to_string(weight_cap_examples) +
                              " must be a finite number of examples > 0");
  }
  if (!std::isfinite(expected_total_weight) || expected_total_weight <= 0) {
    throw StrategyConfigError("aggregation: expected_total_weight " +
                              std::to_string(expected_total_weight) +
                              " must be finite and > 0 (sampling rate q times the population's "
                              "total capped weight W)");
  }
  return {Weighting::kCappedExampleCount, Denominator::kFixedExpected, weight_cap_examples,
          expected_total_weight};
}

double AggregationPolicy::client_weight(std::int64_t num_examples) const {
  try {
    return protocol::client_weight(weighting_, weight_cap_examples_, num_examples);
  } catch (const protocol::ProtocolError& e) {
    throw StrategyConfigError(e.what());
  }
}

double AggregationPolicy::divisor(const UpdateAggregate& a) const {
  validate_aggregate(a);
  if (weighting_ == Weighting::kUniform &&
      std::abs(a.total_weight - a.num_contributors) > 1e-9 * std::max(1, a.num_contributors)) {
    throw InvalidAggregateError("aggregation: uniform weighting expects total_weight == "
                                "num_contributors, got " + std::to_string(a.total_weight) +
                                " vs " + std::to_string(a.num_contributors) +
                                "; clients must upload with weight 1");
  }
  if (denominator_ == Denominator::kFixedExpected) {
    return weighting_ == Weighting::kUniform ? static_cast<double>(a.expected_cohort_size)
                                             : expected_total_weight_;
  }
  if (a.num_contributors == 0 || a.total_weight <= 0) {
    throw InvalidAggregateError("aggregation: the round has no contributors or zero total "
                                "weight, so the weighted mean is undefined; skip the round");
  }
  return a.total_weight;
}

Eigen::VectorXd AggregationPolicy::pseudo_gradient(const UpdateAggregate& a) const {
  const double d = divisor(a);
  return a.weighted_sum / d;
}

}  // namespace fedlora::coordinator
