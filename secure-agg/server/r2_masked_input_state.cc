#include <algorithm>
#include <set>

#include "secure-agg/errors.h"
#include "secure-agg/masking.h"
#include "secure-agg/server/server_states.h"
#include "secure-agg/wire.h"

namespace fedlora::secagg::server {

ServerR2MaskedInputState::ServerR2MaskedInputState(DataPtr data) : CollectingState(data, data->u2) {}

void ServerR2MaskedInputState::accept(ClientId id, const pb::ClientToServer& msg) {
  const RoundData& d = *data_;
  const auto& mi = msg.masked_input();
  const std::uint64_t expected = d.config.vector_length * d.config.word_bytes();
  if (mi.words().size() != expected) {
    throw ProtocolError("masked input has " + std::to_string(mi.words().size()) + " bytes, expected " +
                        std::to_string(expected));
  }
  const auto in = membership(d.u2, d.config.num_clients);
  std::set<ClientId> seen;
  for (ClientId v : mi.bad_share_senders()) {
    if (v >= d.config.num_clients || !in[v] || !d.graph.are_neighbours(id, v) || !seen.insert(v).second) {
      throw ProtocolError("masked input reports a bad bundle from client " + std::to_string(v) +
                          ", which did not send this client one (or is reported twice)");
    }
  }
}

ServerTransition ServerR2MaskedInputState::close() {
  RoundData& d = *data_;
  const std::uint32_t n = d.config.num_clients;
  // A client whose bundle some neighbour could not decrypt is excluded: its input is not
  // counted and its mask key is reconstructed from the other shareholders instead.
  // (Storing the masked inputs until now is what makes excluding it possible.)
  for (const auto& [u, msg] : accepted_) {
    for (ClientId v : msg.masked_input().bad_share_senders()) d.accusers[v].insert(u);
  }
  for (const auto& [v, who] : d.accusers) {
    d.offences.push_back(Offence{v, Stage::kMaskedInputCollection,
                                 "sent a share bundle that " + std::to_string(who.size()) +
                                     " neighbour(s) could not decrypt or parse"});
  }
  d.u3.clear();
  for (ClientId u : responders()) {
    if (!d.accusers.count(u)) d.u3.push_back(u);
  }
  const auto in3 = membership(d.u3, n);
  d.dropped.clear();
  for (ClientId u : d.u2) {
    if (!in3[u]) d.dropped.push_back(u);
  }
  if (d.u3.size() < d.config.params.threshold) {
    return abort("only " + std::to_string(d.u3.size()) + " masked inputs count, below t = " +
                 std::to_string(d.config.params.threshold));
  }
  if (auto why = reconstruction_infeasible(d, d.u3)) return abort(*why);
  // Bell et al. CCS'20: unmasking reveals the sum of each connected component of the
  // survivors' graph; with more than one component the server would learn partial sums.
  if (const std::size_t c = components(d.graph, d.u3); c > 1) {
    return abort("the survivors' neighbour graph split into " + std::to_string(c) +
                 " components; unmasking would reveal partial sums");
  }
  d.sum.assign(d.config.vector_length, 0);
  for (ClientId u : d.u3) add_packed_into(d.sum, accepted_.at(u).masked_input().words(), d.config.word_bytes());
  accepted_.clear();

  ServerTransition tr;
  const bool check = d.config.consistency_check;
  for (ClientId u : d.u3) {
    Outgoing o{u, {}};
    *o.message.mutable_header() = make_header(d.config, check ? Stage::kConsistencyCheck : Stage::kUnmasking);
    auto* surv = check ? o.message.mutable_consistency_check()->mutable_survivors()
                       : o.message.mutable_unmasking()->mutable_survivors();
    auto* drop = check ? o.message.mutable_consistency_check()->mutable_dropped()
                       : o.message.mutable_unmasking()->mutable_dropped();
    surv->Add(d.u3.begin(), d.u3.end());
    drop->Add(d.dropped.begin(), d.dropped.end());
    tr.outgoing.push_back(std::move(o));
  }
  if (check) {
    tr.next = std::make_unique<ServerR3ConsistencyCheckState>(data_);
  } else {
    tr.next = std::make_unique<ServerR4UnmaskingState>(data_, d.u3);
  }
  return tr;
}

}  // namespace fedlora::secagg::server
