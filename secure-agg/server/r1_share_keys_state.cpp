#include <set>

#include "secure-agg/crypto/aes_gcm.h"
#include "secure-agg/errors.h"
#include "secure-agg/server/server_states.h"
#include "secure-agg/wire.h"

namespace fedlora::secagg::server {

ServerR1ShareKeysState::ServerR1ShareKeysState(DataPtr data) : CollectingState(data, data->u1) {}

void ServerR1ShareKeysState::accept(ClientId id, pb::ClientToServer& msg) {
  const RoundData& d = *data_;
  const auto& resp = msg.share_keys();
  const auto in = membership(d.u1, d.config.num_clients);
  std::set<ClientId> expected;
  for (ClientId v : d.graph().neighbours(id)) {
    if (in[v]) expected.insert(v);
  }
  if (static_cast<std::size_t>(resp.shares_size()) != expected.size()) {
    throw ProtocolError("ShareKeysResponse has " + std::to_string(resp.shares_size()) + " bundles, expected " +
                        std::to_string(expected.size()) + " (one per neighbour that advertised keys)");
  }
  for (const auto& e : resp.shares()) {
    if (expected.erase(e.peer_id()) != 1) {
      throw ProtocolError("ShareKeysResponse addresses a bundle to client " + std::to_string(e.peer_id()) +
                          ", which is not an expected neighbour (or is addressed twice)");
    }
    if (e.nonce().size() != crypto::kGcmNonceBytes || e.ciphertext().size() != kShareBundleBytes + crypto::kGcmTagBytes) {
      throw ProtocolError("ShareKeysResponse bundle for client " + std::to_string(e.peer_id()) + " has a malformed nonce or ciphertext size");
    }
  }
  if (resp.self_mask_commitment().size() != 32) throw ProtocolError("ShareKeysResponse: commitment must be 32 bytes");
}

ServerTransition ServerR1ShareKeysState::close() {
  RoundData& d = *data_;
  const std::uint32_t n = d.config.num_clients;
  d.u2 = prune_to_threshold(d, responders());
  if (d.u2.empty()) {
    return abort("too few clients shared keys for any neighbourhood to reach t = " + std::to_string(d.config.params.threshold));
  }
  const auto in = membership(d.u2, n);
  d.commitments.assign(n, crypto::Digest32{});
  ServerTransition tr;
  std::map<ClientId, Outgoing> out;
  for (ClientId u : d.u2) {
    Outgoing o{u, {}};
    *o.message.mutable_header() = make_header(d.config, Stage::kMaskedInputCollection);
    o.message.mutable_masked_input();
    out.emplace(u, std::move(o));
    const auto& c = accepted_.at(u).share_keys().self_mask_commitment();
    std::copy(c.begin(), c.end(), d.commitments[u].begin());
  }
  // Route each bundle from sender v to its recipient u, both in U2.
  for (ClientId v : d.u2) {
    for (const auto& e : accepted_.at(v).share_keys().shares()) {
      const ClientId u = e.peer_id();
      if (!in[u]) continue;
      auto* fwd = out.at(u).message.mutable_masked_input()->add_shares();
      fwd->set_peer_id(v);
      fwd->set_nonce(e.nonce());
      fwd->set_ciphertext(e.ciphertext());
    }
  }
  discard_all();
  for (auto& [u, o] : out) tr.outgoing.push_back(std::move(o));
  tr.next = std::make_unique<ServerR2MaskedInputState>(data_);
  return tr;
}

}  // namespace fedlora::secagg::server
