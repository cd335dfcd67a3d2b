#pragma once
// Transport-agnostic SecAgg client for one round.
//
//   ClientStateMachine c(config, id, encoded_input);   // words < 2^w, length m
//   send(c.start());                                    // AdvertiseKeys
//   for each message from the server:
//     auto step = c.handle(msg);
//     if (step.reply) send(*step.reply);
//   c.completed() / c.aborted()
//
// A message of another session, round or stage is rejected (step.rejected) and the
// state is unchanged. A message of the current stage that breaks a protocol rule
// (malformed, too few neighbours, asks for both shares of a client, ...) aborts the
// client: step.reply then carries an Abort for the server.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "proto/secagg.pb.h"
#include "secure-agg/client/client_states.h"
#include "secure-agg/crypto/random.h"
#include "secure-agg/round_config.h"

namespace fedlora::secagg {

struct ClientStep {
  std::optional<pb::ClientToServer> reply;  ///< message to send to the server, if any
  std::optional<std::string> rejected;      ///< set if msg was ignored (state unchanged)
};

class ClientStateMachine {
 public:
  /// Validates config (ConfigError), input length == m and every word < 2^w
  /// (ConfigError). rng defaults to SystemRandom (RAND_bytes).
  ClientStateMachine(const RoundConfig& config, ClientId id, std::vector<std::uint64_t> input,
                     std::unique_ptr<crypto::RandomSource> rng = nullptr);
  /// Same, with the input given later through set_input (e.g. while local training runs
  /// during the key rounds). Throws ConfigError on a bad config or id.
  ClientStateMachine(const RoundConfig& config, ClientId id, std::unique_ptr<crypto::RandomSource> rng = nullptr);

  /// Sets the encoded input (m words < 2^w). Allowed until the MaskedInputCollection
  /// request is handled; ConfigError on a bad input, SecAggError if it is too late.
  void set_input(std::vector<std::uint64_t> input);

  /// Generates the two X25519 key pairs and returns AdvertiseKeys. Call once
  /// (SecAggError otherwise).
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
