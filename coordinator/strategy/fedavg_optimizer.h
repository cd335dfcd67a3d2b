#pragma once
// FedAvg and FedAvgM server steps.

#include "coordinator/strategy/server_optimizer.h"

namespace fedlora::coordinator {

/// FedAvg server step: θ_{t+1} = θ_t + η Δ̄_t.
///
/// McMahan et al. 2017, "Communication-Efficient Learning of Deep Networks from
/// Decentralized Data", AISTATS, Algorithm 1 (η = 1); with a server learning rate as
/// FedOpt's SGD server optimizer (Reddi et al. 2021, Algorithm 1). State: "step" only.
class FedAvgOptimizer final : public ServerOptimizer {
 public:
  /// Throws StrategyConfigError if dimension < 1 or server_lr is not finite and > 0.
  FedAvgOptimizer(Eigen::Index dimension, double server_lr);

  std::string_view name() const noexcept override { return "fedavg"; }
  double server_lr() const noexcept override { return server_lr_; }
  Eigen::Index dimension() const noexcept override { return dimension_; }
  std::int64_t step() const noexcept override { return step_; }
  void apply(Eigen::Ref<Eigen::VectorXf> theta,
             const Eigen::Ref<const Eigen::VectorXd>& pseudo_gradient) override;
  std::map<std::string, Eigen::VectorXf> state_vectors() const override { return {}; }
  std::map<std::string, double> state_scalars() const override;
  void restore(const OptimizerState& state) override;

 private:
  Eigen::Index dimension_;
  double server_lr_;
  std::int64_t step_ = 0;
};

/// FedAvgM: FedAvg with server momentum β (Hsu, Qi, Brown 2019, "Measuring the Effects of
/// Non-Identical Data Distribution for Federated Visual Classification", §3):
///   u_t = β u_{t−1} + Δ̄_t,   θ_{t+1} = θ_t + η u_t,   u_{−1} = 0.
/// (The paper writes v ← βv + Δw, w ← w − v with Δw = θ_t − θ_local, i.e. Δw = −Δ̄ and u = −v.)
/// State: vector "momentum" (u, [d] float32) and "step".
class FedAvgMOptimizer final : public ServerOptimizer {
 public:
  /// Throws StrategyConfigError if dimension < 1, server_lr not finite > 0, or momentum not
  /// in [0, 1).
  FedAvgMOptimizer(Eigen::Index dimension, double server_lr, double momentum);

  std::string_view name() const noexcept override { return "fedavgm"; }
  double server_lr() const noexcept override { return server_lr_; }
  double momentum() const noexcept { return momentum_; }
  Eigen::Index dimension() const noexcept override { return momentum_vector_.size(); }
  std::int64_t step() const noexcept override { return step_; }
  void apply(Eigen::Ref<Eigen::VectorXf> theta,
             const Eigen::Ref<const Eigen::VectorXd>& pseudo_gradient) override;
  std::map<std::string, Eigen::VectorXf> state_vectors() const override;
  std::map<std::string, double> state_scalars() const override;
  void restore(const OptimizerState& state) override;

 private:
  double server_lr_;
  double momentum_;
  Eigen::VectorXf momentum_vector_;
  std::int64_t step_ = 0;
};

}  // namespace fedlora::coordinator
