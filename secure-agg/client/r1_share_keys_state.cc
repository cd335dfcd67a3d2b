#include <algorithm>
#include <set>

#include "secure-agg/client/client_states.h"
#include "secure-agg/crypto/aes_gcm.h"
#include "secure-agg/errors.h"
#include "secure-agg/key_derivation.h"
#include "secure-agg/shamir.h"

namespace fedlora::secagg::client {
namespace {

crypto::X25519PublicKey key_from(const std::string& s, ClientId peer, const char* which) {
  if (s.size() != 32) {
    throw ProtocolError(std::string("ShareKeysRequest: ") + which + " of client " + std::to_string(peer) +
                        " has " + std::to_string(s.size()) + " bytes, expected 32");
  }
  crypto::X25519PublicKey k{};
  std::copy(s.begin(), s.end(), k.begin());
  return k;
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

  std::map<ClientId, PeerKeys> peers;
  std::set<crypto::X25519PublicKey> seen_keys{own_c, own_s};
  for (const auto& nb : req.neighbours()) {
    const ClientId v = nb.client_id();
    if (v >= cfg.num_clients || v == self || !ctx_->graph.are_neighbours(self, v)) {
      throw ProtocolError("ShareKeysRequest lists client " + std::to_string(v) + ", which is not a neighbour of " +
                          std::to_string(self));
    }
    PeerKeys pk{key_from(nb.c_pk(), v, "c_pk"), key_from(nb.s_pk(), v, "s_pk")};
    // A repeated key (own key reflected back, or two peers with one key) would let pairwise
    // masks or share keys collide; an honest server never sends one.
    if (!seen_keys.insert(pk.c_pk).second || !seen_keys.insert(pk.s_pk).second) {
      throw ProtocolError("ShareKeysRequest repeats a public key (client " + std::to_string(v) + ")");
    }
    if (!peers.emplace(v, pk).second) {
      throw ProtocolError("ShareKeysRequest lists client " + std::to_string(v) + " twice");
    }
  }
  const std::uint32_t t = cfg.params.threshold;
  if (peers.size() + 1 < t) {
    throw ProtocolError("only " + std::to_string(peers.size()) + " neighbours advertised keys; threshold t = " +
                        std::to_string(t) + " cannot be met");
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
