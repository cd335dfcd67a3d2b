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
// is treated as that client's. AdvertiseKeys must carry the device's signature under its
// roster identity key. A message of another session/round, of a later stage, or that
// breaks a rule drops its sender (recorded in offences()); a message of an earlier
// stage of this round is ignored without penalty (late retransmission).
// The server never holds both the self-mask seed and the mask key of one client, and
// on abort it discards the running sum: an aborted round returns nothing partial.
//
// Memory: each masked input is added to the running sum when it is accepted; only its
// fingerprint (retransmission detection) and bad-bundle reports are kept, so the server
// holds O(m + n k) words, never |U2| inputs at once. A client whose input was accepted
// therefore stays a survivor; a neighbour that could not decrypt its bundle simply has
// no share of it (see README, "Streaming server").
#include <memory>
#include <span>
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
  /// A sharded sender (a simulator whose devices live in several processes): a MaskedInput
  /// whose `words` field is empty because the words are summed outside the server, by the
  /// processes hosting the devices. Validated and recorded exactly as receive() does, except
  /// for the words; the client's words are owed until add_external_sum(). Outside
  /// MaskedInputCollection it is receive(). Never throws for bad input.
  ReceiveResult receive_without_words(ClientId from, pb::ClientToServer msg);
  /// Adds Σ (mod 2^64) of the owed words of `clients` (sorted ids; vector_length words, each
  /// reduced mod 2^word_bits or not) to the running sum. `clients` must be exactly the
  /// clients accepted by receive_without_words() in this stage; otherwise throws
  /// SecAggError and nothing changes. A stage that closes with words still owed aborts.
  void add_external_sum(std::span<const ClientId> clients, std::span<const std::uint64_t> words);
  /// Clients accepted by receive_without_words() in this stage whose words are owed, sorted.
  std::vector<ClientId> words_owed() const;
  /// Stage deadline: clients that did not answer are dropped; returns the requests of the
  /// next stage (or Abort messages). Throws SecAggError if the round already finished.
  std::vector<Outgoing> close_stage();

  /// Stage being collected (nullopt once finished).
  std::optional<Stage> stage() const { return state_->stage(); }
  std::string_view state_name() const { return state_->name(); }
  bool finished() const { return !state_->stage().has_value(); }
  /// Result or abort reason; throws SecAggError before finished().
  const RoundOutcome& outcome() const;
  /// Protocol violations, in order of detection (see Offence).
  const std::vector<Offence>& offences() const { return data_->offences; }
  const RoundConfig& config() const { return data_->config; }
  /// The round's neighbour graph: complete from the start, Harary once AdvertiseKeys
  /// closed (nullptr before).
  const NeighbourGraph* graph() const { return data_->graph_ ? &*data_->graph_ : nullptr; }
  /// Serialized bytes of client messages the current stage holds (O(n k) at most; no
  /// masked input is ever among them).
  std::size_t buffered_bytes() const { return state_->buffered_bytes(); }

 private:
  server::DataPtr data_;
  std::unique_ptr<server::ServerState> state_;
};

}  // namespace fedlora::secagg
