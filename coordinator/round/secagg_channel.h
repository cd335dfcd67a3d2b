#pragma once
// Secure aggregation as the round's channel: the SecAgg/SecAgg+ server state machine
// (secure-agg/, Bonawitz et al. CCS'17 rounds 0-4; Bell et al. CCS'20) driven by device
// messages, and the fixed-point decoding of the survivors' sum. The coordinator learns the
// sum of the surviving devices' uploads and their weights, nothing per device.
#include <memory>
#include <span>
#include <vector>

#include "coordinator/round/aggregation_channel.h"
#include "secure-agg/fixed_point.h"
#include "secure-agg/round_config.h"
#include "secure-agg/server_state_machine.h"

namespace fedlora::coordinator {

class SecAggChannel final : public AggregationChannel {
 public:
  /// `config` is the round's SecAgg session (n members = config.num_clients), `codec` the
  /// fixed-point encoding of uploads of `upload_length` values (weight coordinate iff the
  /// weights are not uniform). AdvertiseKeys may close early once `target` devices
  /// advertised keys (over-selection). Throws secagg::ConfigError on inconsistent sizes.
  SecAggChannel(const secagg::RoundConfig& config, const secagg::FixedPointParams& codec, std::size_t upload_length,
                MemberIndex target);

  bool secure() const noexcept override { return true; }
  std::string_view stage_name() const override;
  bool finished() const override { return server_.finished(); }
  bool stage_complete() const override;
  Receipt receive_plain(MemberIndex member, protocol::PlainUpload upload) override;
  Receipt receive_secagg(MemberIndex member, secagg::pb::ClientToServer message) override;
  void drop(MemberIndex member, const std::string& reason) override;
  std::vector<Downlink> close_stage() override;
  const ChannelOutcome& outcome() const override;
  const ChannelTraffic& traffic() const override { return traffic_; }

  /// Sharded transports (simulator/multi/): a device message whose masked words, if it is
  /// a MaskedInput, were stripped and are summed by the process hosting the device.
  /// `wire_bytes` is its size with the words (traffic counts what a device would send).
  /// Never throws for bad input.
  Receipt receive_secagg_without_words(MemberIndex member, secagg::pb::ClientToServer message,
                                       std::int64_t wire_bytes);
  /// Members accepted by receive_secagg_without_words() in this stage whose words are owed.
  std::vector<MemberIndex> masked_words_owed() const { return server_.words_owed(); }
  /// Σ of the owed members' masked words (m words; secure-agg ServerStateMachine::
  /// add_external_sum). Throws secagg::SecAggError unless `members` is exactly
  /// masked_words_owed() and the length is m.
  void add_masked_sum(std::span<const MemberIndex> members, std::span<const std::uint64_t> words) {
    server_.add_external_sum(members, words);
  }

  const secagg::RoundConfig& config() const { return server_.config(); }
  /// Devices dropped for protocol violations (diagnostics).
  const std::vector<secagg::Offence>& offences() const { return server_.offences(); }

 private:
  Receipt receive(MemberIndex member, secagg::pb::ClientToServer message, bool words_elsewhere,
                  std::int64_t wire_bytes);

  secagg::ServerStateMachine server_;
  secagg::FixedPointCodec codec_;
  std::size_t upload_length_;
  MemberIndex target_;
  std::vector<char> pending_;  ///< by member: asked in this stage and not yet answered
  MemberIndex answered_ = 0;
  ChannelOutcome outcome_;
  ChannelTraffic traffic_;
};

}  // namespace fedlora::coordinator
