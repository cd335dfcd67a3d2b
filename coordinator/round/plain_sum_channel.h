#pragma once
// Plain aggregation: devices upload w·Δ (float32) and w; the coordinator validates each
// upload and adds it to a float64 running sum as it arrives (it never holds a cohort's
// uploads at once). One stage, "upload"; it may close early once `target` uploads count
// (over-selection, Bonawitz et al. 2019 §2.2), or once every member has answered.
#include <span>
#include <vector>

#include "coordinator/round/aggregation_channel.h"
#include "coordinator/strategy/update_aggregate.h"

namespace fedlora::coordinator {

class PlainSumChannel final : public AggregationChannel {
 public:
  /// n ≥ 1 members, uploads of `length` values, weights in [0, max_weight], `target` in
  /// [1, n] uploads close the stage early. Throws InvalidUpdateError on bad sizes.
  PlainSumChannel(MemberIndex n, Eigen::Index length, double max_weight, MemberIndex target);

  bool secure() const noexcept override { return false; }
  std::string_view stage_name() const override { return finished_ ? "finished" : "upload"; }
  bool finished() const override { return finished_; }
  bool stage_complete() const override;
  Receipt receive_plain(MemberIndex member, protocol::PlainUpload upload) override;
  Receipt receive_secagg(MemberIndex member, secagg::pb::ClientToServer message) override;
  void drop(MemberIndex member, const std::string& reason) override;
  std::vector<Downlink> close_stage() override;

  /// Sharded transports (simulator/multi/): uploads of `members` that the processes
  /// hosting them validated with the same Aggregator checks and summed (float64, then an
  /// allreduce). `bytes` is what their uploads would have taken on the wire. The members
  /// count as uploaded; throws InvalidUpdateError (nothing changes) if one is not a live,
  /// waiting member or the sum is malformed.
  void receive_partial_sum(std::span<const MemberIndex> members, const Eigen::VectorXd& weighted_sum, double weight,
                           std::int64_t bytes);
  /// An upload rejected where it was validated (sharded transports): the member is out.
  void reject(MemberIndex member);
  const ChannelOutcome& outcome() const override;
  const ChannelTraffic& traffic() const override { return traffic_; }

 private:
  enum class State : char { kWaiting, kUploaded, kGone };
  MemberIndex target_;
  Aggregator sum_;
  std::vector<State> members_;
  MemberIndex uploaded_ = 0, gone_ = 0;
  bool finished_ = false;
  ChannelOutcome outcome_;
  ChannelTraffic traffic_;
};

}  // namespace fedlora::coordinator
