#include "coordinator/round/round_driver.h"

#include <algorithm>
#include <cmath>

#include "coordinator/protocol/seeds.h"
#include "coordinator/round/job_setup.h"
#include "lora/adapter/lora_b_part.h"
#include "coordinator/round/plain_sum_channel.h"
#include "coordinator/round/secagg_channel.h"
#include "coordinator/round/secagg_plan.h"
#include "privacy/errors.h"
#include "secure-agg/errors.h"

namespace fedlora::coordinator {

RoundDriver::RoundDriver(Coordinator& coordinator, std::optional<UserDpServer> user_dp, RoundPolicy policy,
                         std::unique_ptr<secagg::crypto::RandomSource> session_rng)
    : coordinator_(coordinator), user_dp_(std::move(user_dp)), policy_(std::move(policy)),
      session_rng_(std::move(session_rng)) {
  policy_.job.validate();
  if (policy_.job.user_dp.enabled != user_dp_.has_value())
    throw config::ConfigError("round driver: user_dp.enabled and the UserDpServer must agree");
  if (policy_.job.secagg.enabled && !session_rng_)
    throw config::ConfigError("round driver: secure aggregation needs a random source for session ids");
}

const OpenedRound& RoundDriver::opened() const {
  if (!opened_) throw RoundStateError("no round is open");
  return *opened_;
}

std::optional<MemberIndex> RoundDriver::member_of(std::uint64_t device) const {
  if (!opened_) return std::nullopt;
  const auto& c = opened_->cohort;
  const auto it = std::find(c.begin(), c.end(), device);
  if (it == c.end()) return std::nullopt;
  return static_cast<MemberIndex>(it - c.begin());
}

protocol::RoundInstructions RoundDriver::common_instructions(std::uint64_t round, const ClientFitConfig& fit,
                                                             double max_weight) const {
  const auto& job = policy_.job;
  const auto& layout = coordinator_.layout();
  protocol::RoundInstructions in;
  in.round = round;
  in.base_model_sha256 = policy_.base_model_sha256;
  in.adapter = protocol::AdapterSpec{layout.rank(), layout.alpha(), layout.targets(), layout.size()};
  if (job.lora.freeze_a) {
    in.adapter.freeze_a = true;
    in.adapter.b_dimension = lora::lora_b_size(layout);
  }
  in.train = job.client;
  in.deadlines = policy_.deadlines;
  in.train.fedprox_mu = fit.fedprox.mu;
  in.weighting.kind = fit.weighting;
  in.weighting.weight_cap_examples = fit.weight_cap_examples;
  in.weighting.max_weight = max_weight;
  if (job.dp_sgd.enabled) {
    const auto& d = job.dp_sgd;
    in.dp_sgd = protocol::DpSgdInstructions{d.noise_multiplier, d.l2_norm_clip, d.sampling_rate, d.steps,
                                            d.per_example_loss};
  }
  return in;
}

const OpenedRound& RoundDriver::open_round(std::span<const std::uint64_t> available,
                                           const std::unordered_set<std::uint64_t>& ineligible, const DeviceFacts& devices) {
  if (opened_) throw RoundStateError("open_round: round " + std::to_string(opened_->round) + " is still open");
  std::unordered_set<std::uint64_t> excluded = ineligible;
  if (user_dp_)  // participation caps, DP-FTRL's once per tree
    for (auto id : available)
      if (!user_dp_->can_participate(id)) excluded.insert(id);
  const RoundTask task = coordinator_.open_round(available, excluded);
  OpenedRound o;
  o.round = task.round;
  o.cohort = task.cohort;
  o.theta = task.theta;
  channel_.reset();
  secagg_info_.reset();
  extra_down_ = 0;
  t_min_ = 1;
  dp_instructions_.reset();
  const auto& job = policy_.job;
  const auto k = static_cast<std::uint32_t>(o.cohort.size());

  std::optional<secagg::SecAggParameters> params;
  std::vector<secagg::RosterEntry> roster;
  if (k == 0) {
    o.setup_failure = "empty cohort";
  } else if (job.secagg.enabled) {
    try {
      params = plan_secagg_parameters(k, job.secagg);
      secagg_info_ = SecAggRoundInfo{k, params->degree, params->threshold, params->graph == secagg::GraphKind::kHarary};
      t_min_ = params->threshold;
      // Logical ids follow the identity keys, which the server does not choose.
      std::vector<std::pair<secagg::crypto::Ed25519PublicKey, std::uint64_t>> keyed;
      for (auto id : o.cohort) {
        const auto key = devices.identity ? devices.identity(id) : std::nullopt;
        if (!key) throw config::ConfigError("device " + std::to_string(id) + " has no identity key for the SecAgg roster");
        keyed.emplace_back(*key, id);
      }
      std::sort(keyed.begin(), keyed.end());
      for (std::size_t i = 0; i < keyed.size(); ++i) {
        o.cohort[i] = keyed[i].second;
        roster.push_back(secagg::RosterEntry{keyed[i].first, std::nullopt});
      }
      roster = secagg::make_roster(std::move(roster));
    } catch (const config::ConfigError& e) {
      o.setup_failure = e.what();
    } catch (const secagg::SecAggError& e) {
      o.setup_failure = e.what();
    }
  }
  if (!o.setup_failure) {
    double max_weight = 1.0;
    if (task.client_config.weighting == protocol::Weighting::kExampleCount)
      for (auto id : o.cohort) max_weight = std::max(max_weight, static_cast<double>(devices.examples(id)));
    protocol::RoundInstructions common = common_instructions(o.round, task.client_config, max_weight);
    if (user_dp_) {
      try {
        common.user_dp = user_dp_->instructions(k, t_min_);
        common.user_dp->update.validate();
        dp_instructions_ = common.user_dp;
      } catch (const privacy::PrivacyError& e) {
        o.setup_failure = e.what();
      }
    }
    const auto length = static_cast<std::size_t>(common.upload_length());
    const auto target = std::min<std::uint32_t>(k, static_cast<std::uint32_t>(job.federation.cohort_size));
    std::optional<protocol::SecAggInstructions> sa;
    if (!o.setup_failure) {
      try {
        if (params) {
          secagg::FixedPointParams fp;
          fp.clip = secagg_clip_range(job.secagg, common.user_dp);
          fp.bits = static_cast<unsigned>(job.secagg.bits);
          fp.max_contributors = k;
          fp.word_bits = static_cast<unsigned>(job.secagg.word_bits);
          if (common.weighting.kind != protocol::Weighting::kUniform) fp.weight_clip = max_weight;
          const secagg::FixedPointCodec codec(fp);
          secagg::RoundConfig rc;
          session_rng_->fill(rc.session_id);
          rc.round = o.round;
          rc.num_clients = k;
          rc.vector_length = codec.encoded_length(length);
          rc.word_bits = fp.word_bits;
          rc.params = *params;
          rc.consistency_check = job.secagg.consistency_check;
          rc.roster = roster;
          rc.graph_seed_work = static_cast<unsigned>(job.secagg.graph_seed_work);
          sa = protocol::SecAggInstructions{std::make_shared<const secagg::RoundConfig>(rc), 0, fp};
          channel_ = std::make_unique<SecAggChannel>(rc, fp, length, target);
        } else {
          channel_ = std::make_unique<PlainSumChannel>(k, static_cast<Eigen::Index>(length), max_weight, target);
        }
      } catch (const secagg::SecAggError& e) {
        o.setup_failure = e.what();
        channel_.reset();
      } catch (const config::ConfigError& e) {
        o.setup_failure = e.what();
        channel_.reset();
      }
    }
    if (!o.setup_failure) {
      o.instructions.reserve(k);
      for (std::uint32_t i = 0; i < k; ++i) {
        protocol::RoundInstructions in = common;
        in.train.shuffle_seed = protocol::derive_seed(policy_.run_seed, {0xC11E, o.round, o.cohort[i]});
        if (sa) {
          in.secagg = *sa;
          in.secagg->logical_id = i;
        }
        in.validate();
        o.instructions.push_back(std::move(in));
      }
    }
  }
  opened_ = std::move(o);
  return *opened_;
}

RoundReport RoundDriver::report_from(RoundRecord record) {
  RoundReport r;
  r.cohort = static_cast<int>(opened_->cohort.size());
  if (channel_) {
    r.traffic = channel_->traffic();
    if (channel_->finished())
      if (const auto* s = std::get_if<ChannelSum>(&channel_->outcome())) r.contributors = s->contributors;
  }
  r.traffic.bytes_down += extra_down_;
  r.secagg = secagg_info_;
  if (user_dp_) {
    r.epsilon = user_dp_->epsilon();
    r.clip_norm = dp_instructions_ ? dp_instructions_->update.l2_norm_clip : user_dp_->clip_norm();
  }
  r.record = std::move(record);
  opened_.reset();
  channel_.reset();
  return r;
}

RoundReport RoundDriver::abort_round(const std::string& reason) {
  if (!opened_) throw RoundStateError("abort_round: no round is open");
  // The cohort was drawn: whether the round aborts can depend on who was sampled.
  if (user_dp_) user_dp_->charge_aborted_round();
  return report_from(coordinator_.abort_round(reason));
}

RoundReport RoundDriver::finish_round() {
  if (!opened_) throw RoundStateError("finish_round: no round is open");
  if (opened_->setup_failure) return abort_round(*opened_->setup_failure);
  if (!channel_->finished()) throw RoundStateError("finish_round: the aggregation channel has not finished");
  const auto& outcome = channel_->outcome();
  if (const auto* ab = std::get_if<ChannelAbort>(&outcome)) return abort_round(ab->reason);
  const auto& sum = std::get<ChannelSum>(outcome);
  const int min_contributors = policy_.job.federation.min_contributors;
  if (sum.contributors < min_contributors)
    return abort_round(std::to_string(sum.contributors) + " contributors < min_contributors " +
                       std::to_string(min_contributors));
  const auto& layout = coordinator_.layout();
  const Eigen::Index d = update_dimension(policy_.job, layout);
  UpdateAggregate agg;
  agg.weighted_sum = sum.values.head(d);
  agg.total_weight = sum.weight_sum;
  agg.num_contributors = sum.contributors;
  agg.expected_cohort_size = policy_.job.federation.cohort_size;
  if (user_dp_) {
    std::optional<double> indicator;
    if (sum.values.size() > d) indicator = sum.values[d];
    std::vector<std::uint64_t> participants;
    for (MemberIndex m : sum.members) participants.push_back(opened_->cohort.at(m));
    std::sort(participants.begin(), participants.end());
    try {
      user_dp_->finalize(agg, *dp_instructions_, indicator, participants);
    } catch (const privacy::PrivacyError& e) {
      return abort_round(e.what());
    }
  }
  if (policy_.job.lora.freeze_a) {  // FFA-LoRA: the sum (and its DP noise) is lora_B only; lora_A does not move
    Eigen::VectorXd full(layout.size());
    lora::scatter_lora_b<double>(layout, std::span<const double>(agg.weighted_sum.data(), static_cast<std::size_t>(d)),
                                 std::span<double>(full.data(), static_cast<std::size_t>(full.size())));
    agg.weighted_sum = std::move(full);
  }
  return report_from(coordinator_.close_round(agg));
}

}  // namespace fedlora::coordinator
