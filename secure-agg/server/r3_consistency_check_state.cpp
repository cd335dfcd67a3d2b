#include <set>

#include "secure-agg/errors.h"
#include "secure-agg/server/server_states.h"
#include "secure-agg/wire.h"

namespace fedlora::secagg::server {

ServerR3ConsistencyCheckState::ServerR3ConsistencyCheckState(DataPtr data) : CollectingState(data, data->u3) {}

void ServerR3ConsistencyCheckState::accept(ClientId id, pb::ClientToServer& msg) {
  const RoundData& d = *data_;
  const auto in3 = membership(d.u3, d.config.num_clients);
  std::set<ClientId> seen;
  for (const auto& tag : msg.consistency_check().tags()) {
    const ClientId v = tag.peer_id();
    if (v >= d.config.num_clients || !in3[v] || !d.graph().are_neighbours(id, v) || !seen.insert(v).second ||
        tag.tag().size() != 32) {
      throw ProtocolError("consistency tag for client " + std::to_string(v) +
                          " is malformed, duplicated or not addressed to a surviving neighbour");
    }
  }
}

ServerTransition ServerR3ConsistencyCheckState::close() {
  RoundData& d = *data_;
  const std::vector<ClientId> u4 = responders();
  if (auto why = reconstruction_infeasible(d, u4)) return abort(*why);
  ServerTransition tr;
  std::map<ClientId, Outgoing> out;
  for (ClientId u : u4) {
    Outgoing o{u, {}};
    *o.message.mutable_header() = make_header(d.config, Stage::kUnmasking);
    auto* req = o.message.mutable_unmasking();
    req->mutable_survivors()->Add(d.u3.begin(), d.u3.end());
    req->mutable_dropped()->Add(d.dropped.begin(), d.dropped.end());
    out.emplace(u, std::move(o));
  }
  for (const auto& [sender, msg] : accepted_) {
    for (const auto& tag : msg.consistency_check().tags()) {
      const auto it = out.find(tag.peer_id());
      if (it == out.end()) continue;  // recipient did not answer this stage
      auto* fwd = it->second.message.mutable_unmasking()->add_tags();
      fwd->set_peer_id(sender);
      fwd->set_tag(tag.tag());
    }
  }
  discard_all();
  for (auto& [u, o] : out) tr.outgoing.push_back(std::move(o));
  tr.next = std::make_unique<ServerR4UnmaskingState>(data_, u4);
  return tr;
}

}  // namespace fedlora::secagg::server
