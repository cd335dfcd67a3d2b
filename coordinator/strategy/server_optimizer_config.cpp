#include "coordinator/strategy/server_optimizer_config.h"

#include <algorithm>
#include <cctype>

#include "coordinator/strategy/adaptive_optimizer.h"
#include "coordinator/strategy/errors.h"
#include "coordinator/strategy/fedavg_optimizer.h"

namespace fedlora::coordinator {
namespace {

void forbid(const std::string& optimizer, const char* field, const std::optional<double>& value,
            const char* hint) {
  if (value.has_value()) {
    throw StrategyConfigError("server optimizer '" + optimizer + "' does not use " + field +
                              "; remove it (" + hint + ")");
  }
}

}  // namespace

std::unique_ptr<ServerOptimizer> make_server_optimizer(const ServerOptimizerConfig& c,
                                                       Eigen::Index dimension) {
  std::string name = c.name;
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
  const bool adaptive = name == "fedadagrad" || name == "fedadam" || name == "fedyogi";

  if (name == "fedavg") {
    forbid(name, "momentum", c.momentum, "server momentum is name = \"fedavgm\"");
    forbid(name, "beta1", c.beta1, "beta1 belongs to fedadam/fedyogi/fedadagrad");
    forbid(name, "beta2", c.beta2, "beta2 belongs to fedadam/fedyogi");
    forbid(name, "tau", c.tau, "tau belongs to fedadam/fedyogi/fedadagrad");
    return std::make_unique<FedAvgOptimizer>(dimension, c.server_lr.value_or(1.0));
  }
  if (name == "fedavgm") {
    forbid(name, "beta1", c.beta1, "fedavgm's momentum is 'momentum'");
    forbid(name, "beta2", c.beta2, "beta2 belongs to fedadam/fedyogi");
    forbid(name, "tau", c.tau, "tau belongs to fedadam/fedyogi/fedadagrad");
    return std::make_unique<FedAvgMOptimizer>(dimension, c.server_lr.value_or(1.0),
                                              c.momentum.value_or(0.9));
  }
  if (adaptive) {
    forbid(name, "momentum", c.momentum, "the adaptive optimizers' momentum is 'beta1'");
    const double lr = c.server_lr.value_or(0.01);
    const double beta1 = c.beta1.value_or(0.9);
    const double tau = c.tau.value_or(1e-3);
    if (name == "fedadagrad") {
      forbid(name, "beta2", c.beta2, "Adagrad accumulates squares without decay");
      return std::make_unique<FedAdagradOptimizer>(dimension, lr, beta1, tau);
    }
    const double beta2 = c.beta2.value_or(0.99);
    if (name == "fedadam") return std::make_unique<FedAdamOptimizer>(dimension, lr, beta1, beta2, tau);
    return std::make_unique<FedYogiOptimizer>(dimension, lr, beta1, beta2, tau);
  }
  throw StrategyConfigError("unknown server optimizer '" + c.name +
                            "'; use one of fedavg, fedavgm, fedadagrad, fedadam, fedyogi "
                            "(FedProx is a client-side term: set fedprox mu instead)");
}

}  // namespace fedlora::coordinator
