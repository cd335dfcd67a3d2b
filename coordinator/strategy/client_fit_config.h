#pragma once
// What a client needs to know, from the strategy, to train and weight its update.

#include <cstdint>

#include "coordinator/strategy/aggregation_policy.h"

namespace fedlora::coordinator {

/// FedProx (Li, Sahu, Zaheer, Sanjabi, Talwalkar, Smith 2020, "Federated Optimization in
/// Heterogeneous Networks", MLSys, Eq. 2): the client minimises
///   h_k(w; w^t) = F_k(w) + (μ/2) ‖w − w^t‖²
/// i.e. adds μ (w − w^t) to its gradient; w^t is the global adapter θ_t. Purely client-side:
/// the server aggregates exactly as FedAvg. μ = 0 disables it.
struct FedProxConfig {
  double mu = 0.0;
  /// Throws StrategyConfigError unless mu is finite and >= 0.
  void validate() const;
};

/// Per-round instructions for the client side of the strategy.
///
/// The client multiplies its (clipped, noised) update by `weight(num_examples)` before it is
/// masked for SecAgg, so the coordinator only ever sees Σ w_i Δ_i and Σ w_i.
struct ClientFitConfig {
  Weighting weighting = Weighting::kExampleCount;
  double weight_cap_examples = 0.0;  ///< ŵ for Weighting::kCappedExampleCount, else 0
  FedProxConfig fedprox;

  /// w_i for a client with `num_examples` examples (see AggregationPolicy::client_weight).
  /// Throws StrategyConfigError if num_examples < 0, or the cap is not > 0 when it applies.
  double weight(std::int64_t num_examples) const;
};

}  // namespace fedlora::coordinator
