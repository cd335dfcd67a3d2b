#pragma once
// Building a server optimizer from a run configuration.

#include <Eigen/Core>
#include <memory>
#include <optional>
#include <string>

#include "coordinator/strategy/server_optimizer.h"

namespace fedlora::coordinator {

/// Server-optimizer section of a run configuration.
///
/// Unset optional fields take the per-optimizer defaults below; a field that the chosen
/// optimizer does not use must stay unset (setting it is an error, not silently ignored).
///
/// | name         | server_lr default | uses                                  |
/// |--------------|-------------------|---------------------------------------|
/// | "fedavg"     | 1.0               | –                                     |
/// | "fedavgm"    | 1.0               | momentum (default 0.9, Hsu et al. 2019)|
/// | "fedadagrad" | 0.01              | beta1 (0.9), tau (1e-3)               |
/// | "fedadam"    | 0.01              | beta1 (0.9), beta2 (0.99), tau (1e-3) |
/// | "fedyogi"    | 0.01              | beta1 (0.9), beta2 (0.99), tau (1e-3) |
///
/// β1 = 0.9, β2 = 0.99 are the values Reddi et al. 2021 fix in their experiments; η and τ are
/// tuned per task there, so the defaults are starting points. Names are case-insensitive.
struct ServerOptimizerConfig {
  std::string name = "fedavg";
  std::optional<double> server_lr;  ///< η > 0
  std::optional<double> momentum;   ///< β ∈ [0, 1), fedavgm only
  std::optional<double> beta1;      ///< β1 ∈ [0, 1), adaptive optimizers
  std::optional<double> beta2;      ///< β2 ∈ [0, 1), fedadam and fedyogi
  std::optional<double> tau;        ///< τ > 0, adaptive optimizers
};

/// Builds the configured optimizer for parameter vectors of length `dimension`.
/// Throws StrategyConfigError for an unknown name (the message lists the valid ones), an
/// out-of-range value, a field the optimizer does not use, or dimension < 1.
std::unique_ptr<ServerOptimizer> make_server_optimizer(const ServerOptimizerConfig& config,
                                                       Eigen::Index dimension);

}  // namespace fedlora::coordinator
