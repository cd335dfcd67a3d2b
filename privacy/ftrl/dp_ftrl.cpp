#include "privacy/ftrl/dp_ftrl.h"

#include <cmath>
#include <string>
#include <utility>

#include "privacy/common/finite.h"
#include "privacy/errors.h"

namespace fedlora::privacy {

void DpFtrlConfig::validate() const {
  if (!(noise_multiplier >= 0.0) || std::isinf(noise_multiplier)) {
    throw InvalidPrivacyParameter("DpFtrlConfig: noise_multiplier " +
                                  std::to_string(noise_multiplier) + " must be finite and >= 0");
  }
  if (!(l2_norm_clip > 0.0) || std::isinf(l2_norm_clip)) {
    throw InvalidPrivacyParameter("DpFtrlConfig: l2_norm_clip " + std::to_string(l2_norm_clip) +
                                  " must be finite and > 0");
  }
  if (restart_every < 0) {
    throw InvalidPrivacyParameter("DpFtrlConfig: restart_every " + std::to_string(restart_every) +
                                  " must be >= 0 (0 = one tree)");
  }
  if (expected_cohort < 1) {
    throw InvalidPrivacyParameter("DpFtrlConfig: expected_cohort " +
                                  std::to_string(expected_cohort) + " must be >= 1");
  }
}

namespace {
const DpFtrlConfig& validated(const DpFtrlConfig& c) {
  c.validate();
  return c;
}
}  // namespace

DpFtrlAggregator::DpFtrlAggregator(std::int64_t dimension, const DpFtrlConfig& config,
                                   NoiseSource noise)
    : config_(validated(config)),
      tree_(dimension, config.noise_multiplier * config.l2_norm_clip, std::move(noise),
            config.restart_every),
      true_prefix_(Eigen::VectorXd::Zero(dimension)),
      last_noised_(Eigen::VectorXd::Zero(dimension)) {}

DpFtrlRound DpFtrlAggregator::aggregate(std::span<const double> clipped_sum) {
  if (static_cast<std::int64_t>(clipped_sum.size()) != tree_.dimension()) {
    throw InvalidPrivacyParameter("DpFtrlAggregator::aggregate: clipped sum has " +
                                  std::to_string(clipped_sum.size()) + " values, expected " +
                                  std::to_string(tree_.dimension()));
  }
  require_finite(clipped_sum, "DpFtrlAggregator::aggregate");
  const Eigen::Map<const Eigen::VectorXd> sum(clipped_sum.data(), tree_.dimension());
  const Eigen::VectorXd& noise = tree_.next();
  DpFtrlRound r;
  r.tree_restarted = tree_.restarted();
  if (r.tree_restarted) {
    true_prefix_.setZero();
    last_noised_.setZero();
  }
  true_prefix_ += sum;
  r.noised_prefix_sum = true_prefix_ + noise;
  r.model_delta = (r.noised_prefix_sum - last_noised_) / static_cast<double>(config_.expected_cohort);
  last_noised_ = r.noised_prefix_sum;
  r.leaf = tree_.leaf();
  r.tree = tree_.trees();
  ++rounds_;
  return r;
}

}  // namespace fedlora::privacy
