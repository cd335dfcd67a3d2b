#include "coordinator/strategy/adaptive_optimizer.h"

#include <cmath>
#include <string>

#include "coordinator/strategy/errors.h"
#include "coordinator/strategy/hyperparameter_check.h"
#include "coordinator/strategy/optimizer_state_check.h"

namespace fedlora::coordinator {
namespace {

std::string_view rule_name(AdaptiveServerOptimizer::Rule rule) noexcept {
  switch (rule) {
    case AdaptiveServerOptimizer::Rule::kAdagrad: return "fedadagrad";
    case AdaptiveServerOptimizer::Rule::kAdam: return "fedadam";
    case AdaptiveServerOptimizer::Rule::kYogi: return "fedyogi";
  }
  return "unknown";
}

}  // namespace

AdaptiveServerOptimizer::AdaptiveServerOptimizer(Rule rule, Eigen::Index dimension,
                                                 double server_lr, double beta1, double beta2,
                                                 double tau)
    : beta2_(beta2), rule_(rule), server_lr_(server_lr), beta1_(beta1), tau_(tau) {
  const std::string_view opt = rule_name(rule);
  detail::require_dimension(opt, dimension);
  detail::require_positive(opt, "server_lr", server_lr);
  detail::require_unit_interval(opt, "beta1", beta1);
  detail::require_unit_interval(opt, "beta2", beta2);
  detail::require_positive(opt, "tau", tau);
  m_ = Eigen::VectorXf::Zero(dimension);
  v_ = Eigen::VectorXf::Constant(dimension, static_cast<float>(tau * tau));  // v_{−1} = τ²
}

std::string_view AdaptiveServerOptimizer::name() const noexcept { return rule_name(rule_); }

void AdaptiveServerOptimizer::apply(Eigen::Ref<Eigen::VectorXf> theta,
                                    const Eigen::Ref<const Eigen::VectorXd>& pseudo_gradient) {
  detail::check_apply_inputs(name(), dimension(), theta, pseudo_gradient);
  const Eigen::Index d = dimension();
  Eigen::VectorXf m(d), v(d), next(d);
  for (Eigen::Index i = 0; i < d; ++i) {
    const double g = pseudo_gradient[i];
    const double g2 = g * g;
    const double v_prev = v_[i];
    const double mi = beta1_ * static_cast<double>(m_[i]) + (1.0 - beta1_) * g;
    double vi = 0.0;
    switch (rule_) {
      case Rule::kAdagrad: vi = v_prev + g2; break;
      case Rule::kAdam: vi = beta2_ * v_prev + (1.0 - beta2_) * g2; break;
      case Rule::kYogi: {
        const double diff = v_prev - g2;
        const double sign = diff > 0 ? 1.0 : (diff < 0 ? -1.0 : 0.0);
        vi = v_prev - (1.0 - beta2_) * g2 * sign;
        break;
      }
    }
    m[i] = static_cast<float>(mi);
    v[i] = static_cast<float>(vi);
    // Use the stored float32 m, v so a run restored from a checkpoint continues identically.
    next[i] = static_cast<float>(static_cast<double>(theta[i]) +
                                 server_lr_ * static_cast<double>(m[i]) /
                                     (std::sqrt(static_cast<double>(v[i])) + tau_));
  }
  detail::check_result_finite(name(), "the first moment m", m);
  detail::check_result_finite(name(), "the second moment v", v);
  detail::check_result_finite(name(), "theta", next);
  m_ = std::move(m);
  v_ = std::move(v);
  theta = next;
  ++step_;
}

std::map<std::string, Eigen::VectorXf> AdaptiveServerOptimizer::state_vectors() const {
  return {{"m", m_}, {"v", v_}};
}

std::map<std::string, double> AdaptiveServerOptimizer::state_scalars() const {
  return {{"step", static_cast<double>(step_)}};
}

void AdaptiveServerOptimizer::restore(const OptimizerState& state) {
  const std::int64_t step = detail::check_state(state, name(), dimension(), {"m", "v"});
  const Eigen::VectorXf& v = state.vectors.at("v");
  if ((v.array() < 0.0f).any()) {
    throw OptimizerStateError("restore(" + std::string(name()) +
                              "): second moment 'v' has a negative entry; the checkpoint is corrupt");
  }
  m_ = state.vectors.at("m");
  v_ = v;
  step_ = step;
}

}  // namespace fedlora::coordinator
