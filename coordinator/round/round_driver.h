#pragma once
// The server side of one federated round, transport-agnostic (Bonawitz et al. 2019,
// "Towards Federated Learning at Scale", §2: selection, configuration, reporting):
//
//   open_round(available, ineligible, examples_of)  cohort (with over-selection) and the
//                                                    round instructions of every member
//   channel()                                        the transport feeds device messages in
//                                                    and carries stage messages out
//   finish_round()                                   sum → user-level DP → strategy → θ_{t+1}
//                                                    (or abort: θ unchanged)
//
// The simulator's in-process loop and the gRPC service both drive this class; neither
// aggregates, noises or accounts anything itself.
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <unordered_set>
#include <vector>

#include "coordinator/config/job_config.h"
#include "coordinator/protocol/round_instructions.h"
#include "coordinator/round/aggregation_channel.h"
#include "coordinator/round/coordinator.h"
#include "coordinator/round/user_dp_server.h"
#include "secure-agg/crypto/ed25519.h"
#include "secure-agg/crypto/random.h"

namespace fedlora::coordinator {

/// What the coordinator knows of each available device (from its check-ins).
struct DeviceFacts {
  /// The device's reported example count (weights and their accepted range).
  std::function<std::int64_t(std::uint64_t)> examples;
  /// Its registered Ed25519 identity key (SecAgg rosters); nullopt if it has none.
  std::function<std::optional<secagg::crypto::Ed25519PublicKey>(std::uint64_t)> identity;
};

/// Fixed settings of every round of a job.
struct RoundPolicy {
  config::JobConfig job;
  protocol::Sha256Digest base_model_sha256{};  ///< devices refuse a task for another base
  protocol::Deadlines deadlines;
  std::uint64_t run_seed = 0;  ///< local batch orders (not privacy randomness)
};

/// What open_round decided. With over-selection (StrategyConfig::over_selection) the cohort
/// holds more than K devices and the reporting phase closes at K reports.
struct OpenedRound {
  std::uint64_t round = 0;
  std::vector<std::uint64_t> cohort;  ///< device ids; the member index is the position
  std::vector<protocol::RoundInstructions> instructions;  ///< per member
  std::shared_ptr<const Eigen::VectorXf> theta;           ///< θ_t every member starts from
  std::optional<std::string> setup_failure;  ///< set: the round cannot run (finish_round aborts it)
};

/// Parameters of a round's SecAgg session (metrics).
struct SecAggRoundInfo {
  std::uint32_t n = 0, degree = 0, threshold = 0;
  bool harary = false;
};

/// What happened in a round, for metrics and the store.
struct RoundReport {
  RoundRecord record;          ///< round, aborted + reason, strategy outcome
  int cohort = 0;
  int contributors = 0;
  ChannelTraffic traffic;      ///< channel bytes plus θ downloads the transport reported
  std::optional<SecAggRoundInfo> secagg;
  std::optional<privacy::EpsilonByAdversary> epsilon;  ///< ε per adversary after the round (user-level DP)
  std::optional<double> clip_norm;     ///< S used this round (user-level DP)
};

class RoundDriver {
 public:
  /// `user_dp` set iff job.user_dp.enabled (it adds central noise and accounts ε).
  /// `session_rng` draws SecAgg session ids (OS entropy in a deployment). Throws
  /// config::ConfigError on an inconsistent policy.
  RoundDriver(Coordinator& coordinator, std::optional<UserDpServer> user_dp, RoundPolicy policy,
              std::unique_ptr<secagg::crypto::RandomSource> session_rng);

  /// Opens round coordinator.next_round(): draws the cohort among `available` minus
  /// `ineligible` (strategy; CohortError if too few), plans SecAgg for it, and builds each
  /// member's instructions. With SecAgg the cohort is listed in roster order (members sorted
  /// by identity key, secure-agg/round_config.h), so member index = logical id. A round that
  /// cannot run (empty Poisson cohort, SecAgg parameters that cannot be met, a member
  /// without an identity key) is returned with setup_failure set and no channel.
  const OpenedRound& open_round(std::span<const std::uint64_t> available,
                                const std::unordered_set<std::uint64_t>& ineligible, const DeviceFacts& devices);

  bool round_open() const { return opened_.has_value(); }
  const OpenedRound& opened() const;
  /// The open round's channel; nullptr if none is open or its setup failed.
  AggregationChannel* channel() { return channel_.get(); }
  /// Member index of `device` in the open round.
  std::optional<MemberIndex> member_of(std::uint64_t device) const;
  /// Bytes the transport moved outside the channel (θ downloads).
  void add_download_bytes(std::int64_t bytes) { extra_down_ += bytes; }

  /// Closes the open round from its finished channel: aborts it if the channel aborted, if
  /// fewer than min_contributors count, or if DP finalisation refuses; otherwise applies the
  /// sum through user-level DP and the strategy (θ_{t+1}, checkpoint). Throws
  /// RoundStateError if no round is open or the channel has not finished.
  RoundReport finish_round();
  /// Ends the open round without touching θ.
  RoundReport abort_round(const std::string& reason);

  Coordinator& coordinator() { return coordinator_; }
  const std::optional<UserDpServer>& user_dp() const { return user_dp_; }
  const RoundPolicy& policy() const { return policy_; }

 private:
  RoundReport report_from(RoundRecord record);
  protocol::RoundInstructions common_instructions(std::uint64_t round, const ClientFitConfig& fit,
                                                  double max_weight) const;

  Coordinator& coordinator_;
  std::optional<UserDpServer> user_dp_;
  RoundPolicy policy_;
  std::unique_ptr<secagg::crypto::RandomSource> session_rng_;
  std::optional<OpenedRound> opened_;
  std::unique_ptr<AggregationChannel> channel_;
  std::optional<SecAggRoundInfo> secagg_info_;
  std::int64_t t_min_ = 1;  ///< the round's SecAgg threshold (1 without SecAgg)
  std::optional<protocol::UserDpInstructions> dp_instructions_;  ///< the open round's
  std::int64_t extra_down_ = 0;
};

}  // namespace fedlora::coordinator
