#pragma once
// FedAdagrad, FedAdam and FedYogi: adaptive server optimizers of Reddi et al. 2021.
//
// Reddi, Charles, Zaheer, Garrett, Rush, Konečný, Kumar, McMahan, "Adaptive Federated
// Optimization", ICLR 2021, Algorithm 2. Per coordinate, with Δ_t the pseudo-gradient Δ̄:
//   m_t = β1 m_{t−1} + (1 − β1) Δ_t                              (all three)
//   v_t = v_{t−1} + Δ_t²                                        (FedAdagrad)
//   v_t = β2 v_{t−1} + (1 − β2) Δ_t²                            (FedAdam)
//   v_t = v_{t−1} − (1 − β2) Δ_t² sign(v_{t−1} − Δ_t²)           (FedYogi)
//   θ_{t+1} = θ_t + η m_t / (√v_t + τ)
// with m_{−1} = 0 and v_{−1} = τ² (Algorithm 2 requires v_{−1} ≥ τ²; we take the smallest
// allowed value). As in the paper there is no bias correction. τ is the adaptivity degree:
// smaller τ, more adaptive. m and v are stored as float32; each step is computed in float64
// from the stored values.

#include "coordinator/strategy/server_optimizer.h"

namespace fedlora::coordinator {

/// Shared implementation. State: vectors "m" and "v" ([d] float32) and "step".
class AdaptiveServerOptimizer : public ServerOptimizer {
 public:
  enum class Rule { kAdagrad, kAdam, kYogi };

  std::string_view name() const noexcept override;
  double server_lr() const noexcept override { return server_lr_; }
  double beta1() const noexcept { return beta1_; }
  double tau() const noexcept { return tau_; }
  Eigen::Index dimension() const noexcept override { return m_.size(); }
  std::int64_t step() const noexcept override { return step_; }
  void apply(Eigen::Ref<Eigen::VectorXf> theta,
             const Eigen::Ref<const Eigen::VectorXd>& pseudo_gradient) override;
  std::map<std::string, Eigen::VectorXf> state_vectors() const override;
  std::map<std::string, double> state_scalars() const override;
  void restore(const OptimizerState& state) override;

 protected:
  /// Throws StrategyConfigError: dimension < 1, server_lr or tau not finite > 0, β1 or β2
  /// not in [0, 1) (β2 is unused, pass 0, for Adagrad).
  AdaptiveServerOptimizer(Rule rule, Eigen::Index dimension, double server_lr, double beta1,
                          double beta2, double tau);
  double beta2_;

 private:
  Rule rule_;
  double server_lr_;
  double beta1_;
  double tau_;
  Eigen::VectorXf m_;
  Eigen::VectorXf v_;
  std::int64_t step_ = 0;
};

/// FedAdagrad (Reddi et al. 2021, Algorithm 2): v_t = v_{t−1} + Δ_t².
class FedAdagradOptimizer final : public AdaptiveServerOptimizer {
 public:
  FedAdagradOptimizer(Eigen::Index dimension, double server_lr, double beta1, double tau)
      : AdaptiveServerOptimizer(Rule::kAdagrad, dimension, server_lr, beta1, 0.0, tau) {}
};

/// FedAdam (Reddi et al. 2021, Algorithm 2): v_t = β2 v_{t−1} + (1 − β2) Δ_t².
class FedAdamOptimizer final : public AdaptiveServerOptimizer {
 public:
  FedAdamOptimizer(Eigen::Index dimension, double server_lr, double beta1, double beta2, double tau)
      : AdaptiveServerOptimizer(Rule::kAdam, dimension, server_lr, beta1, beta2, tau) {}
  double beta2() const noexcept { return beta2_; }
};

/// FedYogi (Reddi et al. 2021, Algorithm 2; Yogi: Zaheer et al. 2018):
/// v_t = v_{t−1} − (1 − β2) Δ_t² sign(v_{t−1} − Δ_t²), sign(0) = 0.
class FedYogiOptimizer final : public AdaptiveServerOptimizer {
 public:
  FedYogiOptimizer(Eigen::Index dimension, double server_lr, double beta1, double beta2, double tau)
      : AdaptiveServerOptimizer(Rule::kYogi, dimension, server_lr, beta1, beta2, tau) {}
  double beta2() const noexcept { return beta2_; }
};

}  // namespace fedlora::coordinator
