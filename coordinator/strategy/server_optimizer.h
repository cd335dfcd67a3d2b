#pragma once
// Server optimizers: apply the round's pseudo-gradient Δ̄ to the global adapter θ.
//
// Sign convention (Reddi et al. 2021, "Adaptive Federated Optimization", ICLR, §2): a client
// update is Δ_i = θ_local − θ_t, so Δ̄ points downhill and the server steps *along* it:
// θ_{t+1} = θ_t + (step built from Δ̄). With FedAvg and server_lr 1 this is exactly
// McMahan et al. 2017's θ_{t+1} = Σ n_k/n θ^k_{t+1}.

#include <Eigen/Core>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

namespace fedlora::coordinator {

/// Serializable optimizer state, for checkpoints. `optimizer` is the optimizer's name();
/// `vectors` are float32 state vectors of shape [d] (e.g. "m", "v", "momentum"); `scalars`
/// hold counters such as "step" (number of apply() calls so far). Hyperparameters are not
/// state: they come from the config, so a resumed run may change them.
struct OptimizerState {
  std::string optimizer;
  std::map<std::string, Eigen::VectorXf> vectors;
  std::map<std::string, double> scalars;
};

/// A server optimizer over a flat float32 parameter vector of fixed dimension d.
///
/// apply() is all-or-nothing: inputs are validated and the new θ and state are computed
/// aside; if anything is invalid or non-finite, it throws and neither θ nor the state change.
class ServerOptimizer {
 public:
  virtual ~ServerOptimizer() = default;

  /// "fedavg", "fedavgm", "fedadam", "fedyogi" or "fedadagrad".
  virtual std::string_view name() const noexcept = 0;
  /// Server learning rate η (> 0).
  virtual double server_lr() const noexcept = 0;
  /// d, the flat adapter length this optimizer was built for.
  virtual Eigen::Index dimension() const noexcept = 0;
  /// Number of apply() calls so far (restored from checkpoints).
  virtual std::int64_t step() const noexcept = 0;

  /// θ ← θ + update(Δ̄). theta: [d] float32, updated in place; pseudo_gradient: [d] float64.
  /// Throws InvalidAggregateError on a size mismatch or a non-finite input or result.
  virtual void apply(Eigen::Ref<Eigen::VectorXf> theta,
                     const Eigen::Ref<const Eigen::VectorXd>& pseudo_gradient) = 0;

  /// Named state vectors, each [d] float32 (copies).
  virtual std::map<std::string, Eigen::VectorXf> state_vectors() const = 0;
  /// Named scalar state (always includes "step").
  virtual std::map<std::string, double> state_scalars() const = 0;

  /// Everything needed to continue exactly where this optimizer is.
  OptimizerState state() const { return {std::string(name()), state_vectors(), state_scalars()}; }

  /// Restores a state captured by state(). Throws OptimizerStateError (and keeps the current
  /// state) if the state belongs to another optimizer, has missing or unknown entries,
  /// vectors of the wrong dimension, or invalid values (non-finite, negative second moment,
  /// non-integral or negative step).
  virtual void restore(const OptimizerState& state) = 0;
};

}  // namespace fedlora::coordinator
