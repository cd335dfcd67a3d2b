#pragma once
// How client updates are weighted and what the weighted sum is divided by.

#include <Eigen/Core>
#include <cstdint>
#include <string_view>

#include "coordinator/protocol/weighting.h"
#include "coordinator/strategy/update_aggregate.h"

namespace fedlora::coordinator {

/// Client weighting lives in the round protocol, so the device and the coordinator compute
/// w_i with the same function (coordinator/protocol/weighting.h).
using protocol::Weighting;

/// What the weighted sum Σ w_i Δ_i is divided by to form the pseudo-gradient Δ̄.
enum class Denominator {
  /// Σ w_i over the clients that actually contributed (FedAvg's weighted mean).
  kTotalWeight,
  /// A fixed expected total weight, independent of who dropped out (DP-FedAvg's fixed
  /// denominator f̃_f = Σ w_k Δ_k / (qW), McMahan et al. 2018 §2). Needed for DP: dividing
  /// by the realised Σ w_i would make the divisor itself depend on each client's data.
  kFixedExpected,
};

std::string_view to_string(Denominator d) noexcept;

/// A valid weighting + denominator pair. Built only through the named constructors, which
/// reject combinations that make no sense (e.g. a fixed denominator with unbounded example
/// weights, whose sensitivity is unbounded).
class AggregationPolicy {
 public:
  /// FedAvg (McMahan et al. 2017): w_i = n_i, Δ̄ = Σ n_i Δ_i / Σ n_i.
  static AggregationPolicy example_weighted();
  /// Uniform mean: w_i = 1, Δ̄ = Σ Δ_i / (number of contributors).
  static AggregationPolicy uniform();
  /// DP-FedAvg with uniform weights (McMahan et al. 2018): w_i = 1, Δ̄ = Σ Δ_i / K where K is
  /// the aggregate's expected_cohort_size, whatever the number of survivors.
  static AggregationPolicy fixed_denominator_uniform();
  /// DP-FedAvg with capped example weights (McMahan et al. 2018): w_i = min(n_i/ŵ, 1),
  /// Δ̄ = Σ w_i Δ_i / expected_total_weight (= qW in the paper: sampling rate × total
  /// population weight). Throws StrategyConfigError unless weight_cap_examples (ŵ) and
  /// expected_total_weight are finite and > 0.
  static AggregationPolicy fixed_denominator_capped(double weight_cap_examples,
                                                    double expected_total_weight);

  Weighting weighting() const noexcept { return weighting_; }
  Denominator denominator() const noexcept { return denominator_; }
  /// ŵ for kCappedExampleCount, 0 otherwise.
  double weight_cap_examples() const noexcept { return weight_cap_examples_; }

  /// The weight w_i a client with `num_examples` training examples applies to its update.
  /// Throws StrategyConfigError if num_examples < 0.
  double client_weight(std::int64_t num_examples) const;

  /// The number the weighted sum is divided by. Validates the aggregate first; throws
  /// InvalidAggregateError if it has no contributors or zero total weight (kTotalWeight),
  /// or if under kUniform/fixed-uniform total_weight != num_contributors (the clients did not
  /// use weight 1).
  double divisor(const UpdateAggregate& aggregate) const;

  /// Δ̄ = weighted_sum / divisor(aggregate), computed in float64. Shape [d].
  Eigen::VectorXd pseudo_gradient(const UpdateAggregate& aggregate) const;

 private:
  AggregationPolicy(Weighting w, Denominator d, double cap, double expected_total)
      : weighting_(w), denominator_(d), weight_cap_examples_(cap), expected_total_weight_(expected_total) {}
  Weighting weighting_;
  Denominator denominator_;
  double weight_cap_examples_;
  double expected_total_weight_;
};

}  // namespace fedlora::coordinator
