#include "coordinator/strategy/fedavg_optimizer.h"

#include "coordinator/strategy/hyperparameter_check.h"
#include "coordinator/strategy/optimizer_state_check.h"

namespace fedlora::coordinator {

FedAvgOptimizer::FedAvgOptimizer(Eigen::Index dimension, double server_lr)
    : dimension_(dimension), server_lr_(server_lr) {
  detail::require_dimension("fedavg", dimension);
  detail::require_positive("fedavg", "server_lr", server_lr);
}

void FedAvgOptimizer::apply(Eigen::Ref<Eigen::VectorXf> theta,
                            const Eigen::Ref<const Eigen::VectorXd>& pseudo_gradient) {
  detail::check_apply_inputs(name(), dimension_, theta, pseudo_gradient);
  Eigen::VectorXf next = (theta.cast<double>() + server_lr_ * pseudo_gradient).cast<float>();
  detail::check_result_finite(name(), "theta", next);
  theta = next;
  ++step_;
}

std::map<std::string, double> FedAvgOptimizer::state_scalars() const {
  return {{"step", static_cast<double>(step_)}};
}

void FedAvgOptimizer::restore(const OptimizerState& state) {
  step_ = detail::check_state(state, name(), dimension_, {});
}

FedAvgMOptimizer::FedAvgMOptimizer(Eigen::Index dimension, double server_lr, double momentum)
    : server_lr_(server_lr), momentum_(momentum) {
  detail::require_dimension("fedavgm", dimension);
  detail::require_positive("fedavgm", "server_lr", server_lr);
  detail::require_unit_interval("fedavgm", "momentum", momentum);
  momentum_vector_ = Eigen::VectorXf::Zero(dimension);
}

void FedAvgMOptimizer::apply(Eigen::Ref<Eigen::VectorXf> theta,
                             const Eigen::Ref<const Eigen::VectorXd>& pseudo_gradient) {
  detail::check_apply_inputs(name(), dimension(), theta, pseudo_gradient);
  // u_t = β u_{t−1} + Δ̄_t in float64, stored as float32; θ uses the stored u_t so that a
  // restored run (which only has the float32 u) continues bit-identically.
  Eigen::VectorXf u = (momentum_ * momentum_vector_.cast<double>() + pseudo_gradient).cast<float>();
  Eigen::VectorXf next = (theta.cast<double>() + server_lr_ * u.cast<double>()).cast<float>();
  detail::check_result_finite(name(), "the momentum", u);
  detail::check_result_finite(name(), "theta", next);
  momentum_vector_ = std::move(u);
  theta = next;
  ++step_;
}

std::map<std::string, Eigen::VectorXf> FedAvgMOptimizer::state_vectors() const {
  return {{"momentum", momentum_vector_}};
}

std::map<std::string, double> FedAvgMOptimizer::state_scalars() const {
  return {{"step", static_cast<double>(step_)}};
}

void FedAvgMOptimizer::restore(const OptimizerState& state) {
  const std::int64_t step = detail::check_state(state, name(), dimension(), {"momentum"});
  momentum_vector_ = state.vectors.at("momentum");
  step_ = step;
}

}  // namespace fedlora::coordinator
