#pragma once
// Server states of one SecAgg round, one class per stage (the style of Google fcp's
// secagg_server_r0..r3 states). receive() takes the messages of its stage; close() is
// called at the stage deadline: whoever has not answered is dropped, the next state
// and the per-client requests are returned. Bonawitz et al. CCS'17 detailed protocol, rounds 0-4,
// with per-neighbourhood thresholds of Bell et al. CCS'20 (SecAgg+).
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "proto/secagg.pb.h"
#include "secure-agg/client/client_states.h"
#include "secure-agg/crypto/ed25519.h"
#include "secure-agg/crypto/sha256.h"
#include "secure-agg/graph.h"
#include "secure-agg/graph_seed.h"
#include "secure-agg/round_config.h"

namespace fedlora::secagg {

enum class ReceiveStatus {
  kAccepted,          ///< taken for this stage
  kDuplicateIgnored,  ///< identical copy of an accepted message (retransmission)
  kConflictIgnored,   ///< a different second message from a client whose masked input
                      ///< already counts: recorded as an offence, the client stays
  kStale,             ///< belongs to an earlier stage of this round; ignored, no penalty
  kNotParticipating,  ///< sender unknown, already dropped, or not asked in this stage
  kClientDropped,     ///< the message broke a rule; its sender is out of the round
};

struct ReceiveResult {
  ReceiveStatus status;
  std::string detail;
};

/// A protocol violation (not silence). Usually its client was dropped; a client whose
/// masked input already counts stays in the round, and a holder that sent one bad share
/// only loses that share (the reason says which).
struct Offence {
  ClientId client;
  Stage stage;
  std::string reason;
};

struct RoundResult {
  std::vector<std::uint64_t> sum;    ///< sum over survivors of their inputs mod 2^w, length m
  std::vector<ClientId> survivors;   ///< U3, sorted: whose inputs are in sum
};

struct RoundAborted {
  Stage stage;         ///< stage whose close() (or an earlier violation) aborted the round
  std::string reason;
};

using RoundOutcome = std::variant<RoundResult, RoundAborted>;

struct Outgoing {
  ClientId to;
  pb::ServerToClient message;
};

namespace server {

/// Everything the server learns about the round, handed from state to state. It holds
/// no per-client masked input: each is added to `sum` when accepted.
struct RoundData {
  explicit RoundData(RoundConfig c);
  RoundConfig config;
  crypto::Digest32 config_digest;                     ///< config.digest(): what round keys are signed over
  std::optional<NeighbourGraph> graph_;               ///< complete: from the start; Harary: after R0
  AdvertisedKeys advertised;                          ///< U1 before pruning (the graph seed's input)
  std::vector<std::optional<client::PeerKeys>> keys;   ///< by id, clients in U1
  std::vector<crypto::Ed25519Signature> signatures;   ///< by id, relayed with the keys
  std::vector<crypto::Digest32> commitments;          ///< by id, commitment to b (U2)
  std::vector<ClientId> u1, u2, u3, dropped;          ///< sorted; dropped = U2 \ U3
  std::map<ClientId, std::set<ClientId>> accusers;    ///< accused -> who reported a bad bundle
  std::vector<std::uint64_t> sum;                     ///< running sum of accepted masked inputs (R2 on)
  /// Sharded senders (ServerStateMachine::receive_without_words): true while such a masked
  /// input is being received; the clients it accepted, whose words are still owed.
  bool words_elsewhere = false;
  std::set<ClientId> words_owed;
  std::vector<Offence> offences;
  /// The round's graph; throws SecAggError before AdvertiseKeys closed (Harary).
  const NeighbourGraph& graph() const;
};
using DataPtr = std::shared_ptr<RoundData>;

class ServerState;
struct ServerTransition {
  std::unique_ptr<ServerState> next;
  std::vector<Outgoing> outgoing;
};

class ServerState {
 public:
  virtual ~ServerState() = default;
  /// Stage whose client messages this state collects; nullopt for terminal states.
  virtual std::optional<Stage> stage() const = 0;
  virtual std::string_view name() const = 0;
  /// True iff id was asked in this stage and has not been dropped.
  virtual bool is_participant(ClientId id) const = 0;
  /// Precondition: session, round and stage of msg checked. See ReceiveStatus.
  virtual ReceiveResult receive(ClientId id, pb::ClientToServer&& msg) = 0;
  /// Removes a participant (violation detected outside the state, or client abort).
  /// A client whose masked input already counts cannot be removed: only the offence is
  /// recorded.
  virtual void drop(ClientId id, const std::string& reason, bool offence) = 0;
  /// Deadline: finish the stage.
  virtual ServerTransition close() = 0;
  /// Serialized bytes of client messages this state holds (memory diagnostics, tests).
  virtual std::size_t buffered_bytes() const { return 0; }
};

/// Shared bookkeeping of the collecting states: who was asked, who answered, duplicate
/// detection (by a fingerprint of each accepted message), and dropping on violations.
/// Subclasses validate in accept().
class CollectingState : public ServerState {
 public:
  CollectingState(DataPtr data, const std::vector<ClientId>& asked);
  ~CollectingState() override;
  std::optional<Stage> stage() const override = 0;
  bool is_participant(ClientId id) const override;
  ReceiveResult receive(ClientId id, pb::ClientToServer&& msg) final;
  void drop(ClientId id, const std::string& reason, bool offence) override;
  std::size_t buffered_bytes() const override;

 protected:
  /// Validates msg (body of this stage); throws ProtocolError to drop the sender. May
  /// consume parts of msg (R2 folds the masked words into the sum and keeps the rest).
  virtual void accept(ClientId id, pb::ClientToServer& msg) = 0;
  /// Retransmission fingerprint of a message; default SHA-256 of its serialization.
  virtual crypto::Digest32 fingerprint(const pb::ClientToServer& msg) const;
  /// True once id's message entered the round irrevocably (R2: its input is in the sum).
  virtual bool committed(ClientId) const { return false; }
  /// Wipes secrets in a stored message before it is freed (R4: key shares).
  virtual void scrub(pb::ClientToServer&) const {}
  /// Abort: an Abort message to every remaining participant, and the aborted state.
  ServerTransition abort(const std::string& reason);
  /// Participants that answered, sorted.
  std::vector<ClientId> responders() const;
  /// Scrubs and frees every stored message.
  void discard_all();

  DataPtr data_;
  std::vector<char> asked_;                          ///< by id: asked and not dropped
  std::map<ClientId, pb::ClientToServer> accepted_;  ///< accepted (possibly stripped) message per client
  std::map<ClientId, crypto::Digest32> fingerprints_;
};

class ServerR0AdvertiseKeysState final : public CollectingState {
 public:
  explicit ServerR0AdvertiseKeysState(DataPtr data);
  std::optional<Stage> stage() const override { return Stage::kAdvertiseKeys; }
  std::string_view name() const override { return "R0AdvertiseKeys"; }
  ServerTransition close() override;

 protected:
  void accept(ClientId id, pb::ClientToServer& msg) override;
};

class ServerR1ShareKeysState final : public CollectingState {
 public:
  explicit ServerR1ShareKeysState(DataPtr data);
  std::optional<Stage> stage() const override { return Stage::kShareKeys; }
  std::string_view name() const override { return "R1ShareKeys"; }
  ServerTransition close() override;

 protected:
  void accept(ClientId id, pb::ClientToServer& msg) override;
};

/// Adds each masked input to the running sum as it is accepted and keeps only its
/// fingerprint and bad-bundle reports: memory O(m + n k), not O(|U2| m).
class ServerR2MaskedInputState final : public CollectingState {
 public:
  explicit ServerR2MaskedInputState(DataPtr data);
  std::optional<Stage> stage() const override { return Stage::kMaskedInputCollection; }
  std::string_view name() const override { return "R2MaskedInputCollection"; }
  ServerTransition close() override;

 protected:
  void accept(ClientId id, pb::ClientToServer& msg) override;
  crypto::Digest32 fingerprint(const pb::ClientToServer& msg) const override;
  bool committed(ClientId id) const override { return accepted_.count(id) != 0; }
};

class ServerR3ConsistencyCheckState final : public CollectingState {
 public:
  explicit ServerR3ConsistencyCheckState(DataPtr data);
  std::optional<Stage> stage() const override { return Stage::kConsistencyCheck; }
  std::string_view name() const override { return "R3ConsistencyCheck"; }
  ServerTransition close() override;

 protected:
  void accept(ClientId id, pb::ClientToServer& msg) override;
};

/// Rebuilds each survivor's b and each dropped client's s_sk from any t shares that
/// reproduce its commitment / public key; a malformed or inconsistent share is dropped
/// (offence for its holder) and the round goes on while t good shares remain.
class ServerR4UnmaskingState final : public CollectingState {
 public:
  ServerR4UnmaskingState(DataPtr data, const std::vector<ClientId>& asked);
  std::optional<Stage> stage() const override { return Stage::kUnmasking; }
  std::string_view name() const override { return "R4Unmasking"; }
  ServerTransition close() override;

 protected:
  void accept(ClientId id, pb::ClientToServer& msg) override;
  void scrub(pb::ClientToServer& msg) const override;
};

/// Terminal state holding the outcome.
class ServerFinishedState final : public ServerState {
 public:
  explicit ServerFinishedState(RoundOutcome outcome) : outcome_(std::move(outcome)) {}
  std::optional<Stage> stage() const override { return std::nullopt; }
  std::string_view name() const override {
    return std::holds_alternative<RoundResult>(outcome_) ? "Completed" : "Aborted";
  }
  bool is_participant(ClientId) const override { return false; }
  ReceiveResult receive(ClientId, pb::ClientToServer&&) override {
    return {ReceiveStatus::kNotParticipating, "the round is finished"};
  }
  void drop(ClientId, const std::string&, bool) override {}
  ServerTransition close() override;
  const RoundOutcome& outcome() const { return outcome_; }

 private:
  RoundOutcome outcome_;
};

// --- helpers shared by the server states ---

/// Membership bitmap of a sorted id list.
std::vector<char> membership(const std::vector<ClientId>& ids, std::uint32_t n);
/// Iteratively removes members with fewer than t - 1 neighbours among the members
/// (their shares could never be reconstructed). Returns the survivors, sorted.
std::vector<ClientId> prune_to_threshold(const RoundData& d, std::vector<ClientId> members);
/// Number of connected components of the graph induced on members.
std::size_t components(const NeighbourGraph& g, const std::vector<ClientId>& members);
/// Checks that every survivor (b) and dropped client (s_sk) still has >= t shareholders
/// among `holders`, not counting holders that reported the owner's bundle as bad (they
/// have no share of it); returns a reason if not.
std::optional<std::string> reconstruction_infeasible(const RoundData& d, const std::vector<ClientId>& holders);

}  // namespace server
}  // namespace fedlora::secagg
