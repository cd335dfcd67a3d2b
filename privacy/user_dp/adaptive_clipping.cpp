#include "privacy/user_dp/adaptive_clipping.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "privacy/errors.h"

namespace fedlora::privacy {
namespace {

bool finite_positive(double v) { return v > 0.0 && std::isfinite(v); }
bool finite_non_negative(double v) { return v >= 0.0 && std::isfinite(v); }

}  // namespace

void AdaptiveClippingConfig::validate() const {
  if (!finite_positive(initial_clip)) {
    throw InvalidPrivacyParameter("AdaptiveClippingConfig: initial_clip " +
                                  std::to_string(initial_clip) + " must be finite and > 0");
  }
  if (!(target_quantile >= 0.0 && target_quantile <= 1.0)) {
    throw InvalidPrivacyParameter("AdaptiveClippingConfig: target_quantile " +
                                  std::to_string(target_quantile) + " must be in [0, 1]");
  }
  if (!finite_non_negative(learning_rate)) {
    throw InvalidPrivacyParameter("AdaptiveClippingConfig: learning_rate " +
                                  std::to_string(learning_rate) + " must be finite and >= 0");
  }
  if (!finite_non_negative(noise_multiplier)) {
    throw InvalidPrivacyParameter("AdaptiveClippingConfig: noise_multiplier " +
                                  std::to_string(noise_multiplier) + " must be finite and >= 0");
  }
  if (!finite_non_negative(count_noise_stddev)) {
    throw InvalidPrivacyParameter("AdaptiveClippingConfig: count_noise_stddev " +
                                  std::to_string(count_noise_stddev) +
                                  " must be finite and >= 0");
  }
  if (expected_cohort < 1) {
    throw InvalidPrivacyParameter("AdaptiveClippingConfig: expected_cohort " +
                                  std::to_string(expected_cohort) + " must be >= 1");
  }
  if (noise_multiplier > 0.0 && !(2.0 * count_noise_stddev > noise_multiplier)) {
    throw InvalidPrivacyParameter(
        "AdaptiveClippingConfig: count_noise_stddev " + std::to_string(count_noise_stddev) +
        " is too small for noise_multiplier " + std::to_string(noise_multiplier) +
        " (need 2*count_noise_stddev > noise_multiplier; Andrew et al. suggest "
        "expected_cohort/20 = " + std::to_string(static_cast<double>(expected_cohort) / 20.0) + ")");
  }
}

AdaptiveClipping::AdaptiveClipping(const AdaptiveClippingConfig& config)
    : config_(config), clip_(config.initial_clip), update_z_(0.0) {
  config_.validate();
  const double z = config_.noise_multiplier;
  if (z > 0.0) {
    const double two_sb = 2.0 * config_.count_noise_stddev;
    update_z_ = 1.0 / std::sqrt(1.0 / (z * z) - 1.0 / (two_sb * two_sb));
  }
}

AdaptiveClipping AdaptiveClipping::resume(const AdaptiveClippingConfig& config, double clip_norm) {
  AdaptiveClipping state(config);
  if (!finite_positive(clip_norm)) {
    throw InvalidPrivacyParameter("AdaptiveClipping::resume: stored clip norm " +
                                  std::to_string(clip_norm) + " must be finite and > 0");
  }
  state.clip_ = clip_norm;
  return state;
}

double AdaptiveClipping::count_noise_stddev(NoiseMode mode, std::int64_t min_contributors) const {
  if (mode == NoiseMode::kCentral) return config_.count_noise_stddev;
  if (min_contributors < 1) {
    throw InvalidPrivacyParameter("AdaptiveClipping: min_contributors " +
                                  std::to_string(min_contributors) + " must be >= 1");
  }
  return config_.count_noise_stddev / std::sqrt(static_cast<double>(min_contributors));
}

double AdaptiveClipping::count_noise_stddev_honest(std::int64_t min_survivors,
                                                   std::int64_t max_corrupt_clients) const {
  if (max_corrupt_clients < 0 || min_survivors <= max_corrupt_clients) {
    throw InvalidPrivacyParameter(
        "AdaptiveClipping::count_noise_stddev_honest: need survivor floor m_min (" +
        std::to_string(min_survivors) + ") > a_max (" + std::to_string(max_corrupt_clients) +
        ") >= 0");
  }
  return config_.count_noise_stddev /
         std::sqrt(static_cast<double>(min_survivors - max_corrupt_clients));
}

double AdaptiveClipping::centred_clip_indicator(double pre_clip_norm, double clip) {
  if (!(pre_clip_norm >= 0.0) || std::isinf(pre_clip_norm)) {
    throw NonFiniteValueError("AdaptiveClipping: update norm " + std::to_string(pre_clip_norm) +
                              " is not finite; reject the update");
  }
  return pre_clip_norm <= clip ? 0.5 : -0.5;
}

double AdaptiveClipping::update(double noised_centred_indicator_sum) {
  if (!std::isfinite(noised_centred_indicator_sum)) {
    throw NonFiniteValueError("AdaptiveClipping::update: noised indicator sum is not finite");
  }
  const double m = static_cast<double>(config_.expected_cohort);
  const double b_bar = std::clamp(noised_centred_indicator_sum / m + 0.5, 0.0, 1.0);
  clip_ *= std::exp(-config_.learning_rate * (b_bar - config_.target_quantile));
  return b_bar;
}

}  // namespace fedlora::privacy
