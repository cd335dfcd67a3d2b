#include <algorithm>
#include <set>

#include "secure-agg/client/client_states.h"
#include "secure-agg/crypto/aes_gcm.h"
#include "secure-agg/errors.h"
#include "secure-agg/graph_seed.h"
#include "secure-agg/identity.h"
#include "secure-agg/key_derivation.h"
#include "secure-agg/shamir.h"

namespace fedlora::secagg::client {
namespace {

template <std::size_t N>
std::array<std::uint8_t, N> fixed_from(const std::string& s, ClientId peer, const char* which) {
  if (s.size() != N) {
    throw ProtocolError(std::string("ShareKeysRequest: ") + which + " of client " + std::to_string(peer) + " has " +
                        std::to_string(s.size()) + " bytes, expected " + std::to_string(N));
  }
  std::array<std::uint8_t, N> k{};
  std::copy(s.begin(), s.end(), k.begin());
  return k;
}

// The advertised-keys list of a Harary round: strictly increasing ids < n, 32 bytes each.
AdvertisedKeys parse_advertised(const pb::ShareKeysRequest& req, std::uint32_t n) {
  AdvertisedKeys a;
  a.ids.assign(req.advertised_ids().begin(), req.advertised_ids().end());
  for (std::size_t i = 0; i < a.ids.size(); ++i) {
    if (a.ids[i] >= n || (i > 0 && a.ids[i] <= a.ids[i - 1])) {
      throw ProtocolError("ShareKeysRequest: advertised ids are not strictly increasing ids below n");
    }
  }
  if (req.advertised_digests().size() != 32 * a.ids.size()) {
    throw ProtocolError("ShareKeysRequest: " + std::to_string(req.advertised_digests().size()) +
                        " bytes of advertised digests for " + std::to_string(a.ids.size()) + " ids");
  }
  a.digests.resize(a.ids.size());
  for (std::size_t i = 0; i < a.ids.size(); ++i) {
    std::copy_n(req.advertised_digests().begin() + static_cast<std::ptrdiff_t>(32 * i), 32, a.digests[i].begin());
  }
  return a;
}

const crypto::Digest32* digest_of(const AdvertisedKeys& a, ClientId id) {
  const auto it = std::lower_bound(a.ids.begin(), a.ids.end(), id);
  if (it == a.ids.end() || *it != id) return nullptr;
  return &a.digests[static_cast<std::size_t>(it - a.ids.begin())];
}

}  // namespace

ClientR1ShareKeysState::ClientR1ShareKeysState(ContextPtr ctx, crypto::X25519PrivateKey c_key,
                                               crypto::X25519PrivateKey s_key)
    : ctx_(std::move(ctx)), c_key_(std::move(c_key)), s_key_(std::move(s_key)) {}

ClientTransition ClientR1ShareKeysState::handle(const pb::ServerToClient& msg) {
  const RoundConfig& cfg = ctx_->config;
  const ClientId self = ctx_->id;
  const auto& req = msg.share_keys();
  const auto own_c = c_key_.public_key();
  const auto own_s = s_key_.public_key();

  // Harary: the graph follows from what the server says it accepted, which must include
  // this client's own keys unchanged (else the seed was fixed without them).
  std::optional<AdvertisedKeys> advertised;
  if (cfg.params.graph == GraphKind::kHarary) {
    advertised = parse_advertised(req, cfg.num_clients);
    const crypto::Digest32* own = digest_of(*advertised, self);
    if (own == nullptr || *own != advertised_entry_digest(self, own_c, own_s)) {
      throw ProtocolError("the server's advertised-keys list omits or alters this client's keys; the neighbour "
                          "graph would not depend on them");
    }
    ctx_->graph = build_graph(cfg, *advertised);
  }
  const NeighbourGraph& graph = *ctx_->graph;

  std::map<ClientId, PeerKeys> peers;
  // Keys compared in canonical form: two encodings of one u-coordinate are one key.
  std::set<crypto::X25519PublicKey> seen_keys{crypto::x25519_canonical(own_c), crypto::x25519_canonical(own_s)};
  for (const auto& nb : req.neighbours()) {
    const ClientId v = nb.client_id();
    if (v >= cfg.num_clients || v == self || !graph.are_neighbours(self, v)) {
      throw ProtocolError("ShareKeysRequest lists client " + std::to_string(v) + ", which is not a neighbour of " +
                          std::to_string(self) + " in the round's graph");
    }
    PeerKeys pk{fixed_from<32>(nb.c_pk(), v, "c_pk"), fixed_from<32>(nb.s_pk(), v, "s_pk")};
    const auto sig = fixed_from<64>(nb.signature(), v, "signature");
    if (!verify_round_keys(cfg.roster[v].identity, ctx_->config_digest, v, pk.c_pk, pk.s_pk, sig)) {
      throw ProtocolError("the keys relayed for client " + std::to_string(v) +
                          " do not carry its identity key's signature for this session, round and configuration "
                          "(altered, replayed or invented by the server)");
    }
    if (ctx_->policy.enrolment_authority) {
      const auto& entry = cfg.roster[v];
      if (!entry.enrolment || !verify_enrolment(*ctx_->policy.enrolment_authority, entry.identity, *entry.enrolment)) {
        throw PolicyError("neighbour " + std::to_string(v) +
                          "'s identity key has no valid enrolment signature from the configured authority");
      }
    }
    if (advertised) {
      const crypto::Digest32* d = digest_of(*advertised, v);
      if (d == nullptr || *d != advertised_entry_digest(v, pk.c_pk, pk.s_pk)) {
        throw ProtocolError("neighbour " + std::to_string(v) +
                            "'s keys are not the ones the graph seed commits to");
      }
    }
    // A repeated key (own key reflected back, or two peers with one key) would let pairwise
    // masks or share keys collide; an honest server never sends one.
    if (!seen_keys.insert(crypto::x25519_canonical(pk.c_pk)).second ||
        !seen_keys.insert(crypto::x25519_canonical(pk.s_pk)).second) {
      throw ProtocolError("ShareKeysRequest repeats a public key (client " + std::to_string(v) + ")");
    }
    if (!peers.emplace(v, pk).second) {
      throw ProtocolError("ShareKeysRequest lists client " + std::to_string(v) + " twice");
    }
  }
  const std::uint32_t t = cfg.params.threshold;
  if (peers.size() < ctx_->min_live) {
    throw PolicyError("isolation: only " + std::to_string(peers.size()) + " of " + std::to_string(graph.degree()) +
                      " neighbours advertised keys; this client proceeds with at least " +
                      std::to_string(ctx_->min_live) + " (threshold t = " + std::to_string(t) + ")");
  }

  crypto::RandomSource& rng = *ctx_->rng;
  crypto::Secret32 b = rng.secret32();
  std::vector<std::uint32_t> xs{self + 1};
  for (const auto& [v, _] : peers) xs.push_back(v + 1);
  const auto s_raw = s_key_.raw();
  auto s_shares = shamir_split(s_raw.span(), t, xs, rng);
  auto b_shares = shamir_split(b.span(), t, xs, rng);

  pb::ClientToServer out;
  *out.mutable_header() = make_header(cfg, Stage::kShareKeys);
  auto* resp = out.mutable_share_keys();
  std::size_t i = 1;
  ChannelSecrets channels;
  for (const auto& [v, pk] : peers) {
    const crypto::Secret32& shared = channels.emplace(v, c_key_.agree(pk.c_pk)).first->second;
    const crypto::Secret32 key = share_encryption_key(shared, cfg, self, v);
    crypto::GcmNonce nonce{};
    rng.fill(nonce);
    ShareBundle bundle{self, v, std::move(s_shares[i]), std::move(b_shares[i])};
    const auto plain = encode_bundle(bundle);
    const auto ct = crypto::aes256_gcm_seal(key, nonce, plain, share_aad(cfg, self, v));
    auto* e = resp->add_shares();
    e->set_peer_id(v);
    e->set_nonce(nonce.data(), nonce.size());
    e->set_ciphertext(ct.data(), ct.size());
    ++i;
  }
  const auto commitment = self_mask_commitment(b, cfg, self);
  resp->set_self_mask_commitment(commitment.data(), commitment.size());

  ClientTransition tr;
  tr.reply = std::move(out);
  tr.next = std::make_unique<ClientR2MaskedInputState>(ctx_, std::move(channels), std::move(s_key_), b,
                                                       std::move(b_shares[0]), std::move(peers));
  return tr;
}

}  // namespace fedlora::secagg::client
