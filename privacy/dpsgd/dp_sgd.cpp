#include "privacy/dpsgd/dp_sgd.h"

#include <cmath>
#include <span>
#include <string>

#include "privacy/common/finite.h"
#include "privacy/common/l2_clip.h"
#include "privacy/errors.h"

namespace fedlora::privacy {

void DpSgdConfig::validate() const {
  if (!(l2_norm_clip > 0.0) || std::isinf(l2_norm_clip)) {
    throw InvalidPrivacyParameter("DpSgdConfig: l2_norm_clip " + std::to_string(l2_norm_clip) +
                                  " must be finite and > 0");
  }
  if (!(noise_multiplier >= 0.0) || std::isinf(noise_multiplier)) {
    throw InvalidPrivacyParameter("DpSgdConfig: noise_multiplier " +
                                  std::to_string(noise_multiplier) + " must be finite and >= 0");
  }
  if (!(sampling_rate > 0.0 && sampling_rate <= 1.0)) {
    throw InvalidPrivacyParameter("DpSgdConfig: sampling_rate " + std::to_string(sampling_rate) +
                                  " must be in (0, 1]");
  }
  if (dataset_size < 1) {
    throw InvalidPrivacyParameter("DpSgdConfig: dataset_size " + std::to_string(dataset_size) +
                                  " must be >= 1");
  }
}

Eigen::VectorXd clip_rows_l2(Eigen::Ref<PerExampleGradients> rows, double clip) {
  const auto cols = static_cast<std::size_t>(rows.cols());
  for (Eigen::Index r = 0; r < rows.rows(); ++r) {
    require_finite(std::span<const float>(rows.row(r).data(), cols), "clip_rows_l2");
  }
  Eigen::VectorXd norms(rows.rows());
  for (Eigen::Index r = 0; r < rows.rows(); ++r) {
    norms[r] = clip_l2(std::span<float>(rows.row(r).data(), cols), clip);
  }
  return norms;
}

Eigen::VectorXf dp_sgd_noisy_gradient(const Eigen::Ref<const PerExampleGradients>& per_example_grads,
                                      const DpSgdConfig& config, NoiseSource& noise) {
  config.validate();
  if (per_example_grads.cols() == 0) {
    throw InvalidPrivacyParameter("dp_sgd_noisy_gradient: gradients have 0 parameters");
  }
  PerExampleGradients clipped = per_example_grads;
  clip_rows_l2(clipped, config.l2_norm_clip);
  // Sum in double so that the order of examples cannot matter beyond float rounding.
  Eigen::VectorXd sum = clipped.cast<double>().colwise().sum().transpose();
  noise.add_gaussian(std::span<double>(sum.data(), static_cast<std::size_t>(sum.size())),
                     config.noise_stddev());
  return (sum / config.expected_batch_size()).cast<float>();
}

}  // namespace fedlora::privacy
