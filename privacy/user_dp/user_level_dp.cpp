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
  if (max_corrupt_clients < 0) {
    throw InvalidPrivacyParameter("UserDpConfig: max_corrupt_clients (a_max) " +
                                  std::to_string(max_corrupt_clients) + " must be >= 0");
  }
  if (min_survivors != 0 && min_survivors < min_contributors + max_corrupt_clients) {
    throw InvalidPrivacyParameter(
        "UserDpConfig: min_survivors (DP survivor floor m_min) " + std::to_string(min_survivors) +
        " is below t + a_max = " + std::to_string(min_contributors + max_corrupt_clients) +
        "; raise it or set 0 for t + a_max");
  }
  if (mode == NoiseMode::kDistributed && survivor_floor() > expected_cohort) {
    throw InvalidPrivacyParameter(
        "UserDpConfig: DP survivor floor m_min = " + std::to_string(survivor_floor()) +
        " exceeds the expected cohort " + std::to_string(expected_cohort) +
        "; most rounds would abort: raise the cohort or lower t / a_max");
  }
}

std::int64_t UserDpConfig::survivor_floor() const {
  return min_survivors != 0 ? min_survivors : min_contributors + max_corrupt_clients;
}

std::int64_t dp_survivor_floor(std::int64_t secagg_threshold, std::int64_t max_corrupt_clients) {
  if (secagg_threshold < 1) {
    throw InvalidPrivacyParameter("dp_survivor_floor: SecAgg threshold t " +
                                  std::to_string(secagg_threshold) + " must be >= 1");
  }
  if (max_corrupt_clients < 0) {
    throw InvalidPrivacyParameter("dp_survivor_floor: max_corrupt_clients (a_max) " +
                                  std::to_string(max_corrupt_clients) + " must be >= 0");
  }
  return secagg_threshold + max_corrupt_clients;
}

double per_device_noise_stddev_honest(double noise_multiplier, double l2_norm_clip,
                                      std::int64_t min_survivors,
                                      std::int64_t max_corrupt_clients) {
  UserDpConfig probe{l2_norm_clip, noise_multiplier, NoiseMode::kCentral, 1, 1};
  probe.validate();
  if (max_corrupt_clients < 0) {
    throw InvalidPrivacyParameter("per_device_noise_stddev_honest: max_corrupt_clients (a_max) " +
                                  std::to_string(max_corrupt_clients) + " must be >= 0");
  }
  if (min_survivors <= max_corrupt_clients) {
    throw InvalidPrivacyParameter(
        "per_device_noise_stddev_honest: survivor floor m_min = " + std::to_string(min_survivors) +
        " must exceed a_max = " + std::to_string(max_corrupt_clients) +
        " (no honest survivor would be guaranteed)");
  }
  return noise_multiplier * l2_norm_clip /
         std::sqrt(static_cast<double>(min_survivors - max_corrupt_clients));
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
    report.noise_stddev =
        per_device_noise_stddev_honest(config.noise_multiplier, config.l2_norm_clip,
                                       config.survivor_floor(), config.max_corrupt_clients);
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
  } else if (contributors < config.survivor_floor()) {
    throw PrivacyError("finalize_user_dp_average: only " + std::to_string(contributors) +
                       " contributors in distributed-noise mode, below the DP survivor floor "
                       "m_min = " + std::to_string(config.survivor_floor()) + " (t = " +
                       std::to_string(config.min_contributors) + ", a_max = " +
                       std::to_string(config.max_corrupt_clients) +
                       "); the honest noise may be below what is accounted: discard the sum");
  }
  const double k = static_cast<double>(config.expected_cohort);
  for (float& v : sum) v = static_cast<float>(static_cast<double>(v) / k);
}

}  // namespace fedlora::privacy
