#pragma once
// Transport-agnostic SecAgg server for one round.
//
//   ServerStateMachine s(config);
//   while (!s.finished()) {
//     // until the stage deadline: s.receive(client_id, message) for each arrival
//     for (auto& out : s.close_stage()) send(out.to, out.message);
//   }
//   if (auto* r = std::get_if<RoundResult>(&s.outcome())) ...  // sum of survivors only
//
// The caller's transport must authenticate client ids: a message attributed to a client
// is treated as that client's. A message of another session/round, of a later stage, or
// that breaks a rule drops its sender (recorded in offences()); a message of an earlier
// stage of this round is ignored without penalty (late retransmission).
// The server never holds both the self-mask seed and the mask key of one client, and
// on abort it discards the running sum: an aborted round returns nothing partial.
//
// Memory: masked inputs are kept until MaskedInputCollection closes (|U2| * m * w/8
// bytes), so a client excluded at that point can be removed from the sum exactly.
#include <memory>
#include <vector>

#include "proto/secagg.pb.h"
#include "secure-agg/round_config.h"
#include "secure-agg/server/server_states.h"

namespace fedlora::secagg {

class ServerStateMachine {
 public:
  /// Validates config (ConfigError).
  explicit ServerStateMachine(const RoundConfig& config);

  /// Offers one client message; never throws for bad input. msg is consumed.
  ReceiveResult receive(ClientId from, pb::ClientToServer msg);
  /// Stage deadline: clients that did not answer are dropped; returns the requests of the
  /// next stage (or Abort messages). Throws SecAggError if the round already finished.
  std::vector<Outgoing> close_stage();

  /// Stage being collected (nullopt once finished).
  std::optional<Stage> stage() const { return state_->stage(); }
  std::string_view state_name() const { return state_->name(); }
  bool finished() const { return !state_->stage().has_value(); }
  /// Result or abort reason; throws SecAggError before finished().
  const RoundOutcome& outcome() const;
  /// Clients dropped for protocol violations, in order of detection.
  const std::vector<Offence>& offences() const { return data_->offences; }
  const RoundConfig& config() const { return data_->config; }

 private:
  server::DataPtr data_;
  std::unique_ptr<server::ServerState> state_;
};

}  // namespace fedlora::secagg
