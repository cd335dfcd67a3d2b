#include "coordinator/round/user_dp_server.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "privacy/errors.h"

namespace fedlora::coordinator {

void UserDpSettings::validate() const {
  auto bad = [](const std::string& w) { throw privacy::InvalidPrivacyParameter("user_dp: " + w); };
  if (!(noise_multiplier >= 0) || !std::isfinite(noise_multiplier)) bad("noise_multiplier must be >= 0");
  if (!(l2_norm_clip > 0) || !std::isfinite(l2_norm_clip)) bad("l2_norm_clip must be > 0");
  if (expected_cohort < 1 || population < expected_cohort) bad("need 1 <= expected cohort <= population");
  if (!(delta > 0 && delta < 1)) bad("delta must be in (0, 1)");
  if (adaptive_clipping) {
    if (!(target_quantile >= 0 && target_quantile <= 1)) bad("target_quantile must be in [0, 1]");
    if (!(clip_learning_rate >= 0)) bad("clip_learning_rate must be >= 0");
    if (!(count_noise_stddev >= 0)) bad("count_noise_stddev must be >= 0");
  }
}

namespace {
privacy::AdaptiveClippingConfig adaptive_config(const UserDpSettings& s) {
  privacy::AdaptiveClippingConfig c;
  c.initial_clip = s.l2_norm_clip;
  c.target_quantile = s.target_quantile;
  c.learning_rate = s.clip_learning_rate;
  c.noise_multiplier = s.noise_multiplier;
  // Andrew et al. §3 suggest σ_b = K/20; for small cohorts that leaves no budget for the
  // update (need 2σ_b > z), so the default is never below z (then z_Δ ≤ 1.16 z).
  c.count_noise_stddev = s.count_noise_stddev > 0
                             ? s.count_noise_stddev
                             : std::max(static_cast<double>(s.expected_cohort) / 20.0, s.noise_multiplier);
  c.expected_cohort = s.expected_cohort;
  return c;
}
}  // namespace

UserDpServer::UserDpServer(const UserDpSettings& settings, privacy::NoiseSource noise)
    : settings_(settings), noise_(std::move(noise)), accountant_(settings.population, settings.delta) {
  settings_.validate();
  if (settings_.adaptive_clipping) adaptive_.emplace(adaptive_config(settings_));
}

double UserDpServer::clip_norm() const { return adaptive_ ? adaptive_->clip_norm() : settings_.l2_norm_clip; }

double UserDpServer::update_noise_multiplier() const {
  return adaptive_ ? adaptive_->update_noise_multiplier() : settings_.noise_multiplier;
}

UserDpServer::State UserDpServer::state() const {
  const auto rdp = accountant_.accountant().rdp();
  return State{accountant_.rounds(), std::vector<double>(rdp.begin(), rdp.end()), clip_norm()};
}

void UserDpServer::restore(const State& st) {
  const auto orders = accountant_.accountant().orders();
  if (st.rdp.size() != orders.size())
    throw privacy::InvalidPrivacyParameter("user-level DP state has " + std::to_string(st.rdp.size()) +
                                           " RDP orders, the accountant " + std::to_string(orders.size()));
  accountant_ = privacy::UserLevelAccountant::from_state(settings_.population, settings_.delta,
                                                         std::vector<double>(orders.begin(), orders.end()), st.rdp,
                                                         st.rounds);
  if (adaptive_) adaptive_ = privacy::AdaptiveClipping::resume(adaptive_config(settings_), st.clip_norm);
}

DeviceDpInstructions UserDpServer::instructions(int64_t min_contributors) const {
  DeviceDpInstructions d;
  d.update.l2_norm_clip = clip_norm();
  d.update.noise_multiplier = update_noise_multiplier();
  d.update.mode = settings_.mode;
  d.update.min_contributors = std::max<int64_t>(1, min_contributors);
  d.update.expected_cohort = std::max(settings_.expected_cohort, d.update.min_contributors);
  d.report_clip_indicator = adaptive_.has_value();
  if (adaptive_ && settings_.mode == privacy::NoiseMode::kDistributed)
    d.clip_indicator_noise_stddev = adaptive_->count_noise_stddev(settings_.mode, d.update.min_contributors);
  return d;
}

privacy::EpsilonResult UserDpServer::finalize(UpdateAggregate& agg, int64_t min_contributors,
                                              std::optional<double> clip_indicator_sum) {
  if (!agg.weighted_sum.allFinite()) throw privacy::NonFiniteValueError("user-level DP: the aggregate holds NaN/Inf");
  if (settings_.mode == privacy::NoiseMode::kDistributed) {
    if (agg.num_contributors < min_contributors)
      throw privacy::PrivacyError("user-level DP (distributed): " + std::to_string(agg.num_contributors) +
                                  " contributors < t = " + std::to_string(min_contributors) +
                                  "; the sum would carry too little noise and is not released");
  } else {
    const double sd = privacy::central_noise_stddev(update_noise_multiplier(), clip_norm());
    for (Eigen::Index i = 0; i < agg.weighted_sum.size(); ++i) agg.weighted_sum[i] += sd * noise_.gaussian();
  }
  if (adaptive_) {
    if (!clip_indicator_sum) throw privacy::PrivacyError("adaptive clipping: the round carries no clip indicators");
    double s = *clip_indicator_sum;
    if (settings_.mode == privacy::NoiseMode::kCentral)
      s += adaptive_->count_noise_stddev(settings_.mode, 1) * noise_.gaussian();
    adaptive_->update(s);
  }
  const double z = adaptive_ ? adaptive_->accounting_noise_multiplier() : settings_.noise_multiplier;
  return accountant_.record_round(settings_.expected_cohort, z);
}

}  // namespace fedlora::coordinator
