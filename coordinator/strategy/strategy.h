#pragma once
// The strategy: what a round asks of clients, and how its result becomes the next θ.
//
// Modelled on Flower's Strategy (configure_fit / aggregate_fit), with the FedOpt split of
// Reddi et al. 2021 (Algorithm 1): the strategy turns the round's aggregate into the
// pseudo-gradient Δ̄; a ServerOptimizer applies Δ̄ to θ.

#include <Eigen/Core>
#include <cstdint>
#include <span>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "coordinator/strategy/client_fit_config.h"
#include "coordinator/strategy/server_optimizer.h"
#include "coordinator/strategy/update_aggregate.h"

namespace fedlora::coordinator {

/// The plan for one round: who trains, and with what client-side settings.
struct FitPlan {
  std::uint64_t round = 0;
  std::vector<std::uint64_t> cohort;  ///< client ids, K of them, in draw order
  ClientFitConfig client_config;
};

/// What aggregate_fit did, for metrics.
struct FitOutcome {
  int num_contributors = 0;
  int expected_cohort_size = 0;
  double divisor = 0.0;                  ///< what Σ w_i Δ_i was divided by
  double pseudo_gradient_l2_norm = 0.0;  ///< ‖Δ̄‖₂
  std::int64_t optimizer_step = 0;       ///< server-optimizer steps after this round
};

class Strategy {
 public:
  virtual ~Strategy() = default;

  /// Short name for logs, e.g. "fedavg" or "fedadam".
  virtual std::string_view name() const noexcept = 0;

  /// Chooses the cohort for `round` from `available_clients` minus `ineligible`, and the
  /// client-side settings. Deterministic for (strategy seed, round, set of available ids).
  /// Throws CohortError if there are too few eligible clients.
  virtual FitPlan configure_fit(std::uint64_t round,
                                std::span<const std::uint64_t> available_clients,
                                const std::unordered_set<std::uint64_t>& ineligible) = 0;

  /// Turns the round's aggregate into Δ̄ and applies the server optimizer to θ in place
  /// (theta: [d] float32). All-or-nothing: on InvalidAggregateError (bad aggregate, too few
  /// contributors, dimension mismatch) θ and the optimizer state are unchanged.
  virtual FitOutcome aggregate_fit(std::uint64_t round, const UpdateAggregate& aggregate,
                                   Eigen::Ref<Eigen::VectorXf> theta) = 0;

  /// Server-optimizer state for checkpoints, and its restore (OptimizerStateError on mismatch).
  virtual OptimizerState state() const = 0;
  virtual void restore(const OptimizerState& state) = 0;
};

}  // namespace fedlora::coordinator
