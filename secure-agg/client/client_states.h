#pragma once
// Client states of one SecAgg round, one class per state (the style of Google fcp's
// secagg_client_r*_state classes). A state handles only the server message of the stage
// it awaits; handle() returns the next state, so the client can never be in two stages.
// Rounds follow the detailed protocol of Bonawitz et al. CCS'17 (rounds 0-4); neighbours follow Bell et al. CCS'20.
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "proto/secagg.pb.h"
#include "secure-agg/client_policy.h"
#include "secure-agg/crypto/ed25519.h"
#include "secure-agg/crypto/random.h"
#include "secure-agg/crypto/x25519.h"
#include "secure-agg/graph.h"
#include "secure-agg/round_config.h"
#include "secure-agg/wire.h"

namespace fedlora::secagg::client {

/// What every state of one client shares.
struct ClientContext {
  RoundConfig config;
  crypto::Digest32 config_digest{};  ///< config.digest(), signed with the round keys
  ClientPolicy policy;
  std::uint32_t min_live = 0;        ///< policy.min_live_neighbours(config)
  /// Complete graph: known from the start. Harary: recomputed from the ShareKeysRequest.
  std::optional<NeighbourGraph> graph;
  ClientId id = 0;
  crypto::Ed25519PrivateKey identity;
  std::unique_ptr<crypto::RandomSource> rng;
  /// The encoded input (m words < 2^w); may be set late, but before round 2 is handled.
  std::optional<std::vector<std::uint64_t>> input;
};

struct PeerKeys {
  crypto::X25519PublicKey c_pk{};
  crypto::X25519PublicKey s_pk{};
};

/// X25519(c_sk, c_pk_v) per neighbour v, computed once in round 1 and reused for the
/// share-decryption and consistency-MAC keys (always through HKDF, never directly).
using ChannelSecrets = std::map<ClientId, crypto::Secret32>;

class ClientState;

struct ClientTransition {
  std::unique_ptr<ClientState> next;
  std::optional<pb::ClientToServer> reply;
};

class ClientState {
 public:
  virtual ~ClientState() = default;
  /// Stage whose server message this state waits for; nullopt in terminal states.
  virtual std::optional<Stage> awaiting() const = 0;
  virtual std::string_view name() const = 0;
  /// Precondition: msg's session, round and stage match awaiting() (checked by
  /// ClientStateMachine). Throws ProtocolError/CryptoError when the message breaks a
  /// protocol rule; the machine then aborts.
  virtual ClientTransition handle(const pb::ServerToClient& msg) = 0;
};

using ContextPtr = std::shared_ptr<ClientContext>;

/// Round 1: has advertised (c_pk, s_pk); waits for the neighbours' keys. Recomputes the
/// Harary graph from the advertised-keys list (which must hold its own keys), checks
/// each neighbour's signature (and enrolment, if the policy names an authority), refuses
/// repeated keys (compared in canonical form) and isolation (fewer than min_live
/// neighbours), then secret-shares s_sk and a fresh b and encrypts one bundle to each.
class ClientR1ShareKeysState final : public ClientState {
 public:
  ClientR1ShareKeysState(ContextPtr ctx, crypto::X25519PrivateKey c_key, crypto::X25519PrivateKey s_key);
  std::optional<Stage> awaiting() const override { return Stage::kShareKeys; }
  std::string_view name() const override { return "R1ShareKeys"; }
  ClientTransition handle(const pb::ServerToClient& msg) override;

 private:
  ContextPtr ctx_;
  crypto::X25519PrivateKey c_key_, s_key_;
};

/// Round 2: waits for the bundles addressed to it; masks its input with PRG(b) and
/// the pairwise masks of every neighbour that shared (+ if u < v, - if u > v).
class ClientR2MaskedInputState final : public ClientState {
 public:
  ClientR2MaskedInputState(ContextPtr ctx, ChannelSecrets channels, crypto::X25519PrivateKey s_key,
                           crypto::Secret32 b, ShamirShare own_seed_share, std::map<ClientId, PeerKeys> peers);
  std::optional<Stage> awaiting() const override { return Stage::kMaskedInputCollection; }
  std::string_view name() const override { return "R2MaskedInputCollection"; }
  ClientTransition handle(const pb::ServerToClient& msg) override;

 private:
  ContextPtr ctx_;
  ChannelSecrets channels_;
  crypto::X25519PrivateKey s_key_;
  crypto::Secret32 b_;
  ShamirShare own_seed_share_;
  std::map<ClientId, PeerKeys> peers_;
};

/// What a client keeps after sending its masked input.
struct UnmaskingMaterial {
  ChannelSecrets channels;                    ///< for consistency MAC keys
  std::vector<ClientId> live;                 ///< neighbours that shared (sorted)
  std::map<ClientId, ShareBundle> received;   ///< valid bundles, by sender
  ShamirShare own_seed_share;                 ///< share of its own b
};

/// Round 3 (optional): checks the server's view and MACs its hash to each surviving
/// neighbour, so neighbours can verify they were all shown the same view.
class ClientR3ConsistencyCheckState final : public ClientState {
 public:
  ClientR3ConsistencyCheckState(ContextPtr ctx, UnmaskingMaterial m);
  std::optional<Stage> awaiting() const override { return Stage::kConsistencyCheck; }
  std::string_view name() const override { return "R3ConsistencyCheck"; }
  ClientTransition handle(const pb::ServerToClient& msg) override;

 private:
  ContextPtr ctx_;
  UnmaskingMaterial m_;
};

/// The server's view of the round as a client received it.
struct View {
  std::vector<ClientId> survivors;  ///< sorted
  std::vector<ClientId> dropped;    ///< sorted
};

/// Round 4: reveals, per neighbour, the share of b (survivor) or of s_sk (dropped),
/// never both; refuses a request naming a client in both lists, a view that differs
/// from the one of round 3, or (with the consistency check) fewer than t confirmations.
class ClientR4UnmaskingState final : public ClientState {
 public:
  ClientR4UnmaskingState(ContextPtr ctx, UnmaskingMaterial m, std::optional<View> checked_view);
  std::optional<Stage> awaiting() const override { return Stage::kUnmasking; }
  std::string_view name() const override { return "R4Unmasking"; }
  ClientTransition handle(const pb::ServerToClient& msg) override;

 private:
  ContextPtr ctx_;
  UnmaskingMaterial m_;
  std::optional<View> checked_view_;
};

/// Terminal: the unmasking response was sent.
class ClientCompletedState final : public ClientState {
 public:
  std::optional<Stage> awaiting() const override { return std::nullopt; }
  std::string_view name() const override { return "Completed"; }
  ClientTransition handle(const pb::ServerToClient& msg) override;
};

/// Terminal: the round was aborted (by the server, or by this client on a violation).
class ClientAbortedState final : public ClientState {
 public:
  explicit ClientAbortedState(std::string reason) : reason_(std::move(reason)) {}
  std::optional<Stage> awaiting() const override { return std::nullopt; }
  std::string_view name() const override { return "Aborted"; }
  ClientTransition handle(const pb::ServerToClient& msg) override;
  const std::string& reason() const { return reason_; }

 private:
  std::string reason_;
};

/// Parses and checks a (survivors, dropped) view: strictly increasing ids < n, disjoint,
/// self among the survivors, every live neighbour in exactly one list (ProtocolError),
/// and at least ctx.min_live surviving neighbours (PolicyError: isolation).
View parse_view(const ClientContext& ctx, const std::vector<ClientId>& live,
                const google::protobuf::RepeatedField<std::uint32_t>& survivors,
                const google::protobuf::RepeatedField<std::uint32_t>& dropped);

}  // namespace fedlora::secagg::client
