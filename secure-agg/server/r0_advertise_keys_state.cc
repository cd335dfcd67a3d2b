#include <algorithm>
#include <numeric>

#include "secure-agg/crypto/x25519.h"
#include "secure-agg/errors.h"
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

void ServerR0AdvertiseKeysState::accept(ClientId, const pb::ClientToServer& msg) {
  const auto c = to_key(msg.advertise_keys().c_pk(), "c_pk");
  const auto s = to_key(msg.advertise_keys().s_pk(), "s_pk");
  if (c == s) throw ProtocolError("AdvertiseKeys: c_pk and s_pk must differ");
}

ServerTransition ServerR0AdvertiseKeysState::close() {
  RoundData& d = *data_;
  const std::uint32_t n = d.config.num_clients;
  d.keys.assign(n, std::nullopt);
  // A public key advertised by two clients (copied key, or two devices behind one id
  // reusing state) would make shares and masks collide: drop every holder of it.
  std::map<crypto::X25519PublicKey, std::vector<ClientId>> owners;
  for (const auto& [id, msg] : accepted_) {
    client::PeerKeys k;
    std::copy(msg.advertise_keys().c_pk().begin(), msg.advertise_keys().c_pk().end(), k.c_pk.begin());
    std::copy(msg.advertise_keys().s_pk().begin(), msg.advertise_keys().s_pk().end(), k.s_pk.begin());
    owners[k.c_pk].push_back(id);
    owners[k.s_pk].push_back(id);
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
  std::vector<ClientId> u1;
  for (ClientId id = 0; id < n; ++id) {
    if (d.keys[id]) u1.push_back(id);
  }
  d.u1 = prune_to_threshold(d, std::move(u1));
  if (d.u1.empty()) {
    return abort("too few clients advertised keys for any neighbourhood to reach t = " +
                 std::to_string(d.config.params.threshold));
  }
  const auto in = membership(d.u1, n);
  ServerTransition tr;
  for (ClientId u : d.u1) {
    Outgoing o{u, {}};
    *o.message.mutable_header() = make_header(d.config, Stage::kShareKeys);
    auto* req = o.message.mutable_share_keys();
    for (ClientId v : d.graph.neighbours(u)) {
      if (!in[v]) continue;
      auto* pk = req->add_neighbours();
      pk->set_client_id(v);
      pk->set_c_pk(d.keys[v]->c_pk.data(), 32);
      pk->set_s_pk(d.keys[v]->s_pk.data(), 32);
    }
    tr.outgoing.push_back(std::move(o));
  }
  for (ClientId id = 0; id < n; ++id) {
    if (!in[id]) d.keys[id].reset();
  }
  tr.next = std::make_unique<ServerR1ShareKeysState>(data_);
  return tr;
}

}  // namespace fedlora::secagg::server
