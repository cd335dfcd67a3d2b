#include "privacy/user_dp/user_level_dp.h"

#include <cmath>
#include <string>

#include "privacy/common/finite.h"
#include "privacy/common/l2_clip.h"
#include "privacy/errors.h"

namespace fedlora::privacy {

void UserDpConfig::validate() const {
  if (!(l2_norm_clip > 0.0) || std::isinf(l2_norm_clip)) {
    throw InvalidPrivacyParameter("UserDpConfig: l2_norm_clip " + std::to_string(l2_norm_clip) +
                                  " must be finite and > 0");
  }
  if (!(noise_multiplier >= 0.0) || std::isinf(noise_multiplier)) {
    throw InvalidPrivacyParameter("UserDpConfig: noise_multiplier " +
                                  std::to_string(noise_multiplier) + " must be finite and >= 0");
  }
  if (min_contributors < 1) {
    throw InvalidPrivacyParameter("UserDpConfig: min_contributors (SecAgg threshold t) " +
                                  std::to_string(min_contributors) + " must be >= 1");
  }
  if (expected_cohort < 1) {
    throw InvalidPrivacyParameter("UserDpConfig: expected_cohort " +
                                  std::to_string(expected_cohort) + " must be >= 1");
  }
  if (mode == NoiseMode::kDistributed && min_contributors > expected_cohort) {
    throw InvalidPrivacyParameter("UserDpConfig: min_contributors t = " +
                                  std::to_string(min_contributors) +
                                  " exceeds the expected cohort " +
                                  std::to_string(expected_cohort) +
                                  "; lower the SecAgg threshold or raise the cohort");
  }
}

double central_noise_stddev(double noise_multiplier, double l2_norm_clip) {
  UserDpConfig probe{l2_norm_clip, noise_multiplier, NoiseMode::kCentral, 1, 1};
  probe.validate();
  return noise_multiplier * l2_norm_clip;
}

double per_device_noise_stddev(double noise_multiplier, double l2_norm_clip,
                               std::int64_t min_contributors) {
  UserDpConfig probe{l2_norm_clip, noise_multiplier, NoiseMode::kCentral, min_contributors, 1};
  probe.validate();
  return noise_multiplier * l2_norm_clip / std::sqrt(static_cast<double>(min_contributors));
}

DeviceUpdateReport privatize_device_update(std::span<float> delta, const UserDpConfig& config,
                                           NoiseSource& noise) {
  config.validate();
  const double norm = clip_l2(delta, config.l2_norm_clip);  // checks finiteness first
  DeviceUpdateReport report{norm, norm > config.l2_norm_clip, 0.0};
  if (config.mode == NoiseMode::kDistributed) {
    report.noise_stddev = per_device_noise_stddev(config.noise_multiplier, config.l2_norm_clip,
                                                  config.min_contributors);
    noise.add_gaussian(delta, report.noise_stddev);
  }
  return report;
}

void finalize_user_dp_average(std::span<float> sum, std::int64_t contributors,
                              const UserDpConfig& config, NoiseSource& noise) {
  config.validate();
  require_finite(sum, "finalize_user_dp_average");
  if (contributors < 0) {
    throw InvalidPrivacyParameter("finalize_user_dp_average: contributor count " +
                                  std::to_string(contributors) + " is negative");
  }
  if (config.mode == NoiseMode::kCentral) {
    noise.add_gaussian(sum, central_noise_stddev(config.noise_multiplier, config.l2_norm_clip));
  } else if (contributors < config.min_contributors) {
    throw PrivacyError("finalize_user_dp_average: only " + std::to_string(contributors) +
                       " contributors in distributed-noise mode, below the threshold t = " +
                       std::to_string(config.min_contributors) +
                       "; the sum carries less noise than accounted and must be discarded");
  }
  const double k = static_cast<double>(config.expected_cohort);
  for (float& v : sum) v = static_cast<float>(static_cast<double>(v) / k);
}

}  // namespace fedlora::privacy
