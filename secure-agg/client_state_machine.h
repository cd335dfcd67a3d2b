#pragma once
// Transport-agnostic SecAgg client for one round.
//
//   ClientStateMachine c(config, identity, policy);     // refuses a weak round (PolicyError)
//   c.set_input(encoded_input);                         // words < 2^w, length m
//   send(c.start());                                    // signed AdvertiseKeys
//   for each message from the server:
//     auto step = c.handle(msg);
//     if (step.reply) send(*step.reply);
//   c.completed() / c.aborted()
//
// The client's logical id is the index of its identity key in config.roster. A message
// of another session, round or stage is rejected (step.rejected) and the state is
// unchanged. A message of the current stage that breaks a protocol rule (malformed,
// unsigned or replayed neighbour keys, a graph that does not follow from the advertised
// keys, isolation below the policy, asks for both shares of a client, ...) aborts the
// client: step.reply then carries an Abort for the server and abort_reason() says why.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "proto/secagg.pb.h"
#include "secure-agg/client/client_states.h"
#include "secure-agg/client_policy.h"
#include "secure-agg/crypto/ed25519.h"
#include "secure-agg/crypto/random.h"
#include "secure-agg/round_config.h"

namespace fedlora::secagg {

struct ClientStep {
  std::optional<pb::ClientToServer> reply;  ///< message to send to the server, if any
  std::optional<std::string> rejected;      ///< set if msg was ignored (state unchanged)
};

class ClientStateMachine {
 public:
  /// Validates config (ConfigError), finds this device's id (identity key in the roster,
  /// ConfigError if absent) and checks the round against policy before any key exists
  /// (PolicyError). The input comes later through set_input (e.g. while local training
  /// runs during the key rounds). rng defaults to SystemRandom (RAND_bytes).
  ClientStateMachine(const RoundConfig& config, const crypto::Ed25519PrivateKey& identity,
                     const ClientPolicy& policy = ClientPolicy(), std::unique_ptr<crypto::RandomSource> rng = nullptr);
  /// Same, with the input given now (ConfigError unless m words < 2^w).
  ClientStateMachine(const RoundConfig& config, const crypto::Ed25519PrivateKey& identity,
                     std::vector<std::uint64_t> input, const ClientPolicy& policy = ClientPolicy(),
                     std::unique_ptr<crypto::RandomSource> rng = nullptr);

  /// Sets the encoded input (m words < 2^w). Allowed until the MaskedInputCollection
  /// request is handled; ConfigError on a bad input, SecAggError if it is too late.
  void set_input(std::vector<std::uint64_t> input);

  /// Generates the two X25519 key pairs and returns AdvertiseKeys, signed with the
  /// identity key over (config digest, id, c_pk, s_pk). Call once (SecAggError otherwise).
  pb::ClientToServer start();
  /// Feeds one server message; see the file comment. Never throws for bad input.
  ClientStep handle(const pb::ServerToClient& msg);
  /// Local abort (e.g. the device leaves): returns the Abort message to send.
  pb::ClientToServer abort(const std::string& reason);

  ClientId id() const { return ctx_->id; }
  std::string_view state_name() const;
  /// Stage whose server message is awaited (nullopt before start or when finished).
  std::optional<Stage> awaiting() const;
  bool completed() const;
  bool aborted() const;
  /// Why the client aborted (empty unless aborted()).
  std::string abort_reason() const;

 private:
  std::shared_ptr<client::ClientContext> ctx_;
  std::unique_ptr<client::ClientState> state_;
};

}  // namespace fedlora::secagg
