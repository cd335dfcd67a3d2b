#include <algorithm>
#include <numeric>

#include "secure-agg/crypto/x25519.h"
#include "secure-agg/errors.h"
#include "secure-agg/identity.h"
#include "secure-agg/server/server_states.h"
#include "secure-agg/wire.h"

namespace fedlora::secagg::server {
namespace {
std::vector<ClientId> everyone(std::uint32_t n) {
  std::vector<ClientId> ids(n);
  std::iota(ids.begin(), ids.end(), 0u);
  return ids;
}

crypto::X25519PublicKey to_key(const std::string& s, const char* which) {
  if (s.size() != 32) {
    throw ProtocolError(std::string("AdvertiseKeys: ") + which + " has " + std::to_string(s.size()) +
                        " bytes, expected 32");
  }
  crypto::X25519PublicKey k{};
  std::copy(s.begin(), s.end(), k.begin());
  if (!crypto::x25519_public_key_is_usable(k)) {
    throw ProtocolError(std::string("AdvertiseKeys: ") + which + " is a small-order point");
  }
  return k;
}
}  // namespace

ServerR0AdvertiseKeysState::ServerR0AdvertiseKeysState(DataPtr data)
    : CollectingState(data, everyone(data->config.num_clients)) {}

void ServerR0AdvertiseKeysState::accept(ClientId id, pb::ClientToServer& msg) {
  const auto& ak = msg.advertise_keys();
  const auto c = to_key(ak.c_pk(), "c_pk");
  const auto s = to_key(ak.s_pk(), "s_pk");
  if (crypto::x25519_canonical(c) == crypto::x25519_canonical(s)) {
    throw ProtocolError("AdvertiseKeys: c_pk and s_pk must differ");
  }
  if (ak.signature().size() != 64) throw ProtocolError("AdvertiseKeys: the signature must be 64 bytes");
  crypto::Ed25519Signature sig{};
  std::copy(ak.signature().begin(), ak.signature().end(), sig.begin());
  const RoundData& d = *data_;
  if (!verify_round_keys(d.config.roster[id].identity, d.config_digest, id, c, s, sig)) {
    throw ProtocolError("AdvertiseKeys: the signature does not verify under roster identity " + std::to_string(id) +
                        " for this session, round and configuration");
  }
}

ServerTransition ServerR0AdvertiseKeysState::close() {
  RoundData& d = *data_;
  const std::uint32_t n = d.config.num_clients;
  d.keys.assign(n, std::nullopt);
  d.signatures.assign(n, crypto::Ed25519Signature{});
  // A public key advertised by two clients (copied key, or two devices behind one id
  // reusing state) would make shares and masks collide: drop every holder of it. Keys are
  // compared in canonical form (top bit cleared, reduced mod p), so a copy with bit 255
  // flipped, which X25519 treats as the same key, is caught too.
  std::map<crypto::X25519PublicKey, std::vector<ClientId>> owners;
  for (const auto& [id, msg] : accepted_) {
    client::PeerKeys k;
    std::copy(msg.advertise_keys().c_pk().begin(), msg.advertise_keys().c_pk().end(), k.c_pk.begin());
    std::copy(msg.advertise_keys().s_pk().begin(), msg.advertise_keys().s_pk().end(), k.s_pk.begin());
    std::copy(msg.advertise_keys().signature().begin(), msg.advertise_keys().signature().end(), d.signatures[id].begin());
    owners[crypto::x25519_canonical(k.c_pk)].push_back(id);
    owners[crypto::x25519_canonical(k.s_pk)].push_back(id);
    d.keys[id] = k;
  }
  for (const auto& [key, ids] : owners) {
    if (ids.size() < 2) continue;
    for (ClientId id : ids) {
      if (d.keys[id]) {
        d.keys[id].reset();
        d.offences.push_back(Offence{id, Stage::kAdvertiseKeys, "advertised a public key that another client also advertised"});
      }
    }
  }
  // The graph seed commits to every accepted advertisement (before threshold pruning).
  d.advertised = {};
  for (ClientId id = 0; id < n; ++id) {
    if (!d.keys[id]) continue;
    d.advertised.ids.push_back(id);
    d.advertised.digests.push_back(advertised_entry_digest(id, d.keys[id]->c_pk, d.keys[id]->s_pk));
  }
  if (d.advertised.ids.empty()) return abort("no client advertised valid keys");
  if (d.config.params.graph == GraphKind::kHarary) d.graph_ = build_graph(d.config, d.advertised);
  d.u1 = prune_to_threshold(d, d.advertised.ids);
  if (d.u1.empty()) {
    return abort("too few clients advertised keys for any neighbourhood to reach t = " +
                 std::to_string(d.config.params.threshold));
  }
  std::string adv_digests;
  if (d.config.params.graph == GraphKind::kHarary) {
    adv_digests.reserve(32 * d.advertised.digests.size());
    for (const auto& dg : d.advertised.digests) adv_digests.append(reinterpret_cast<const char*>(dg.data()), dg.size());
  }
  const auto in = membership(d.u1, n);
  ServerTransition tr;
  for (ClientId u : d.u1) {
    Outgoing o{u, {}};
    *o.message.mutable_header() = make_header(d.config, Stage::kShareKeys);
    auto* req = o.message.mutable_share_keys();
    for (ClientId v : d.graph().neighbours(u)) {
      if (!in[v]) continue;
      auto* pk = req->add_neighbours();
      pk->set_client_id(v);
      pk->set_c_pk(d.keys[v]->c_pk.data(), 32);
      pk->set_s_pk(d.keys[v]->s_pk.data(), 32);
      pk->set_signature(d.signatures[v].data(), d.signatures[v].size());
    }
    if (d.config.params.graph == GraphKind::kHarary) {
      req->mutable_advertised_ids()->Add(d.advertised.ids.begin(), d.advertised.ids.end());
      req->set_advertised_digests(adv_digests);
    }
    tr.outgoing.push_back(std::move(o));
  }
  for (ClientId id = 0; id < n; ++id) {
    if (!in[id]) d.keys[id].reset();
  }
  discard_all();
  tr.next = std::make_unique<ServerR1ShareKeysState>(data_);
  return tr;
}

}  // namespace fedlora::secagg::server
