#include "client/train/dp_sgd_config.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace fedlora::client {

PerExampleLoss parse_per_example_loss(const std::string& name) {
  if (name == "token_mean") return PerExampleLoss::token_mean;
  if (name == "token_sum") return PerExampleLoss::token_sum;
  throw std::invalid_argument("unknown per-example loss '" + name + "': use token_mean or token_sum");
}

std::string per_example_loss_name(PerExampleLoss loss) {
  return loss == PerExampleLoss::token_mean ? "token_mean" : "token_sum";
}

void DpSgdTrainConfig::validate() const {
  auto bad = [](const std::string& what) { throw std::invalid_argument("client config: dp." + what); };
  if (!(l2_norm_clip > 0) || !std::isfinite(l2_norm_clip)) bad("l2_norm_clip must be a positive finite number");
  if (!(noise_multiplier >= 0) || !std::isfinite(noise_multiplier))
    bad("noise_multiplier must be a finite number >= 0");
  if (!(sampling_rate >= 0 && sampling_rate <= 1))
    bad("sampling_rate must be in (0, 1], or 0 to derive q = batch_size / examples");
  if (steps < 0) bad("steps must be >= 0 (0 = ceil(epochs / q))");
}

DpSgdPlan plan_dp_sgd(const DpSgdTrainConfig& dp, int epochs, int batch_size, int max_steps, int64_t dataset_size) {
  dp.validate();
  if (dataset_size < 1) throw std::invalid_argument("plan_dp_sgd: the device has no training examples");
  if (epochs < 1) throw std::invalid_argument("plan_dp_sgd: epochs must be >= 1");
  if (batch_size < 1) throw std::invalid_argument("plan_dp_sgd: batch_size must be >= 1");
  if (max_steps < 0) throw std::invalid_argument("plan_dp_sgd: max_steps must be >= 0");
  DpSgdPlan p;
  p.dataset_size = dataset_size;
  p.noise_multiplier = dp.noise_multiplier;
  p.l2_norm_clip = dp.l2_norm_clip;
  p.sampling_rate = dp.sampling_rate > 0
                        ? dp.sampling_rate
                        : std::min(1.0, static_cast<double>(batch_size) / static_cast<double>(dataset_size));
  constexpr double kMaxSteps = 1e9;
  if (dp.steps > 0) {
    p.steps = dp.steps;
  } else {
    // A tiny relative slack so that e.g. 1 / 0.1 = 10.000000000000002 plans 10 steps, not 11.
    const double t = std::ceil(static_cast<double>(epochs) / p.sampling_rate * (1 - 1e-12));
    if (!(t <= kMaxSteps))
      throw std::invalid_argument("plan_dp_sgd: epochs / q = " + std::to_string(t) +
                                  " steps is too many; raise dp.sampling_rate or set dp.steps / max_steps");
    p.steps = std::max<int64_t>(1, static_cast<int64_t>(t));
  }
  if (max_steps > 0) p.steps = std::min<int64_t>(p.steps, max_steps);
  if (static_cast<double>(p.steps) > kMaxSteps)
    throw std::invalid_argument("plan_dp_sgd: dp.steps " + std::to_string(p.steps) + " exceeds 10^9");
  return p;
}

}  // namespace fedlora::client
