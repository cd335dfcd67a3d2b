#include "coordinator/round/user_dp_server.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "privacy/accounting/tree_aggregation_accountant.h"
#include "privacy/errors.h"

namespace fedlora::coordinator {

void UserDpSettings::validate() const {
  auto bad = [](const std::string& w) { throw privacy::InvalidPrivacyParameter("user_dp: " + w); };
  if (!(noise_multiplier >= 0) || !std::isfinite(noise_multiplier)) bad("noise_multiplier must be >= 0");
  if (!(l2_norm_clip > 0) || !std::isfinite(l2_norm_clip)) bad("l2_norm_clip must be > 0");
  if (expected_cohort < 1 || population < expected_cohort) bad("need 1 <= expected cohort <= population");
  if (!(delta > 0 && delta < 1)) bad("delta must be in (0, 1)");
  if (max_participations < 0) bad("max_participations must be >= 0 (0 = no cap)");
  if (min_survivors < 0) bad("min_survivors must be >= 0 (0 = t + a_max)");
  if (min_survivors > 0 && mode != privacy::NoiseMode::kDistributed) bad("min_survivors applies to mode = distributed only");
  if (!(corrupt_fraction >= 0 && corrupt_fraction < 1)) bad("the corrupt fraction must be in [0, 1)");
  if (adaptive_clipping) {
    if (!(target_quantile >= 0 && target_quantile <= 1)) bad("target_quantile must be in [0, 1]");
    if (!(clip_learning_rate >= 0)) bad("clip_learning_rate must be >= 0");
    if (!(count_noise_stddev >= 0)) bad("count_noise_stddev must be >= 0");
  }
  if (mechanism == UserDpMechanism::kDpFtrl) {
    if (mode != privacy::NoiseMode::kCentral) bad("mechanism dp_ftrl adds tree noise centrally: use mode = central");
    if (adaptive_clipping) bad("mechanism dp_ftrl does not support adaptive_clipping");
    if (ftrl_restart_every < 1) bad("dp_ftrl needs restart_every >= 1 rounds per tree");
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

UserDpServer::UserDpServer(const UserDpSettings& settings, privacy::NoiseSource noise, int64_t dimension)
    : settings_(settings),
      noise_(std::move(noise)),
      accountant_(settings.population, settings.delta),
      participation_(settings.delta, settings.max_participations) {
  settings_.validate();
  if (settings_.adaptive_clipping) adaptive_.emplace(adaptive_config(settings_));
  if (settings_.mechanism == UserDpMechanism::kDpFtrl) {
    const privacy::DpFtrlConfig fc{settings_.noise_multiplier, settings_.l2_norm_clip, settings_.ftrl_restart_every,
                                   settings_.expected_cohort};
    ftrl_ = std::make_unique<privacy::DpFtrlAggregator>(dimension, fc, std::move(noise_));
  }
}

UserDpServer::~UserDpServer() = default;
UserDpServer::UserDpServer(UserDpServer&&) noexcept = default;
UserDpServer& UserDpServer::operator=(UserDpServer&&) noexcept = default;

double UserDpServer::clip_norm() const { return adaptive_ ? adaptive_->clip_norm() : settings_.l2_norm_clip; }

double UserDpServer::update_noise_multiplier() const {
  return adaptive_ ? adaptive_->update_noise_multiplier() : settings_.noise_multiplier;
}

DeviceDpInstructions UserDpServer::instructions(int64_t cohort, int64_t secagg_threshold) const {
  DeviceDpInstructions d;
  d.update.l2_norm_clip = clip_norm();
  d.update.noise_multiplier = update_noise_multiplier();
  d.update.mode = settings_.mode;
  d.update.min_contributors = std::max<int64_t>(1, secagg_threshold);
  if (settings_.mode == privacy::NoiseMode::kDistributed)
    d.update.max_corrupt_clients =
        static_cast<int64_t>(std::floor(settings_.corrupt_fraction * static_cast<double>(cohort)));
  if (settings_.mode == privacy::NoiseMode::kDistributed && settings_.min_survivors > 0)
    d.update.min_survivors =
        std::max(settings_.min_survivors, d.update.min_contributors + d.update.max_corrupt_clients);
  d.update.expected_cohort = std::max(settings_.expected_cohort, d.update.survivor_floor());
  d.report_clip_indicator = adaptive_.has_value();
  if (adaptive_ && settings_.mode == privacy::NoiseMode::kDistributed)
    d.clip_indicator_noise_stddev =
        adaptive_->count_noise_stddev_honest(d.update.survivor_floor(), d.update.max_corrupt_clients);
  return d;
}

bool UserDpServer::can_participate(std::uint64_t user) const {
  if (!participation_.can_participate(user)) return false;
  if (!ftrl_) return true;
  // Cohorts are drawn before the round is aggregated: a full tree means the next round opens
  // a fresh one, where everybody may contribute again.
  const bool tree_full = !ftrl_steps_per_tree_.empty() && ftrl_steps_per_tree_.back() >= settings_.ftrl_restart_every;
  return tree_full || !std::binary_search(ftrl_tree_participants_.begin(), ftrl_tree_participants_.end(), user);
}

privacy::EpsilonResult UserDpServer::released_model_epsilon() const {
  if (!ftrl_) return accountant_.epsilon();
  if (ftrl_steps_per_tree_.empty()) return privacy::EpsilonResult{0.0, 0.0};
  const auto orders = privacy::default_orders();
  const auto rdp = privacy::tree_restart_rdp(settings_.noise_multiplier, ftrl_steps_per_tree_, orders);
  return privacy::epsilon_from_rdp(orders, rdp, settings_.delta);
}

privacy::EpsilonByAdversary UserDpServer::epsilon() const {
  if (!ftrl_) return privacy::epsilon_by_adversary(accountant_, participation_);
  return privacy::EpsilonByAdversary{settings_.delta, released_model_epsilon(), participation_.epsilon()};
}

privacy::EpsilonByAdversary UserDpServer::finalize(UpdateAggregate& agg, const DeviceDpInstructions& in,
                                                   std::optional<double> clip_indicator_sum,
                                                   std::span<const std::uint64_t> participants) {
  if (!agg.weighted_sum.allFinite()) throw privacy::NonFiniteValueError("user-level DP: the aggregate holds NaN/Inf");
  if (ftrl_) {
    const auto round = ftrl_->aggregate(std::span<const double>(agg.weighted_sum.data(),
                                                                static_cast<std::size_t>(agg.weighted_sum.size())));
    agg.weighted_sum = round.model_delta * static_cast<double>(settings_.expected_cohort);  // the strategy divides by K
    if (round.tree_restarted || ftrl_steps_per_tree_.empty()) {
      ftrl_steps_per_tree_.push_back(1);
      ftrl_tree_participants_.clear();
    } else {
      ++ftrl_steps_per_tree_.back();
    }
    ftrl_tree_participants_.insert(ftrl_tree_participants_.end(), participants.begin(), participants.end());
    std::sort(ftrl_tree_participants_.begin(), ftrl_tree_participants_.end());
    participation_.record_round(participants, 0.0);  // central tree noise: nothing against the coordinator
    return epsilon();
  }
  const bool distributed = settings_.mode == privacy::NoiseMode::kDistributed;
  if (distributed) {
    const int64_t floor = in.update.survivor_floor();
    if (agg.num_contributors < floor)
      throw privacy::PrivacyError("user-level DP (distributed): " + std::to_string(agg.num_contributors) +
                                  " contributors < the survivor floor m_min = t + a_max = " + std::to_string(floor) +
                                  "; the sum would carry too little honest noise and is not released");
  } else {
    const double sd = privacy::central_noise_stddev(update_noise_multiplier(), clip_norm());
    for (Eigen::Index i = 0; i < agg.weighted_sum.size(); ++i) agg.weighted_sum[i] += sd * noise_.gaussian();
  }
  if (adaptive_) {
    if (!clip_indicator_sum) throw privacy::PrivacyError("adaptive clipping: the round carries no clip indicators");
    double s = *clip_indicator_sum;
    if (!distributed) s += adaptive_->count_noise_stddev(settings_.mode, 1) * noise_.gaussian();
    adaptive_->update(s);
  }
  const double z = adaptive_ ? adaptive_->accounting_noise_multiplier() : settings_.noise_multiplier;
  accountant_.record_round(settings_.expected_cohort, z);
  // Against the coordinator only noise it cannot remove counts: none in central mode.
  participation_.record_round(participants, distributed ? z : 0.0);
  return epsilon();
}

void UserDpServer::charge_aborted_round() {
  // DP-FTRL draws no secret sample: an aborted round releases nothing and needs no leaf.
  if (ftrl_) return;
  const double z = adaptive_ ? adaptive_->accounting_noise_multiplier() : settings_.noise_multiplier;
  accountant_.record_round(settings_.expected_cohort, z);
  participation_.record_round({}, settings_.mode == privacy::NoiseMode::kDistributed ? z : 0.0);
}

UserDpServer::State UserDpServer::state() const {
  if (ftrl_) throw privacy::PrivacyError("DP-FTRL's tree state is not checkpointed yet: a dp_ftrl job cannot resume");
  const auto rdp = accountant_.accountant().rdp();
  return State{accountant_.rounds(), std::vector<double>(rdp.begin(), rdp.end()), clip_norm(), participation_.state()};
}

void UserDpServer::restore(const State& st) {
  if (ftrl_) throw privacy::PrivacyError("DP-FTRL's tree state is not checkpointed yet: a dp_ftrl job cannot resume");
  const auto orders = accountant_.accountant().orders();
  if (st.rdp.size() != orders.size())
    throw privacy::InvalidPrivacyParameter("user-level DP state has " + std::to_string(st.rdp.size()) +
                                           " RDP orders, the accountant " + std::to_string(orders.size()));
  accountant_ = privacy::UserLevelAccountant::from_state(settings_.population, settings_.delta,
                                                         std::vector<double>(orders.begin(), orders.end()), st.rdp,
                                                         st.rounds);
  participation_ = privacy::ParticipationAccountant::from_state(st.participation);
  if (adaptive_) adaptive_ = privacy::AdaptiveClipping::resume(adaptive_config(settings_), st.clip_norm);
}

}  // namespace fedlora::coordinator
