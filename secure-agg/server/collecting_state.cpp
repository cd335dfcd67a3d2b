#include <algorithm>
#include <deque>

#include "secure-agg/errors.h"
#include "secure-agg/server/server_states.h"
#include "secure-agg/wire.h"

namespace fedlora::secagg::server {

RoundData::RoundData(RoundConfig c) : config(std::move(c)), config_digest(config.digest()) {
  if (config.params.graph == GraphKind::kComplete) graph_ = build_graph(config, {});
}

const NeighbourGraph& RoundData::graph() const {
  if (!graph_) throw SecAggError("the Harary graph is fixed only when AdvertiseKeys closes");
  return *graph_;
}

CollectingState::CollectingState(DataPtr data, const std::vector<ClientId>& asked)
    : data_(std::move(data)), asked_(membership(asked, data_->config.num_clients)) {}

CollectingState::~CollectingState() { discard_all(); }

bool CollectingState::is_participant(ClientId id) const { return id < asked_.size() && asked_[id]; }

crypto::Digest32 CollectingState::fingerprint(const pb::ClientToServer& msg) const {
  std::string bytes = msg.SerializeAsString();
  const auto d = crypto::sha256({crypto::as_bytes(bytes)});
  crypto::cleanse(bytes);  // may hold key shares
  return d;
}

ReceiveResult CollectingState::receive(ClientId id, pb::ClientToServer&& msg) {
  if (!is_participant(id)) return {ReceiveStatus::kNotParticipating, "client is not a participant of this stage"};
  const crypto::Digest32 fp = fingerprint(msg);
  if (const auto it = fingerprints_.find(id); it != fingerprints_.end()) {
    scrub(msg);
    if (it->second == fp) return {ReceiveStatus::kDuplicateIgnored, "identical retransmission"};
    const std::string why = std::string("sent two different messages in stage ") + stage_name(*stage()) +
                            " (duplicated client id or equivocation)";
    if (committed(id)) {
      data_->offences.push_back(Offence{id, *stage(), why + "; the first one counts"});
      return {ReceiveStatus::kConflictIgnored, why};
    }
    drop(id, why, true);
    return {ReceiveStatus::kClientDropped, why};
  }
  try {
    accept(id, msg);
  } catch (const SecAggError& e) {
    scrub(msg);
    drop(id, e.what(), true);
    return {ReceiveStatus::kClientDropped, e.what()};
  }
  accepted_.emplace(id, std::move(msg));
  fingerprints_.emplace(id, fp);
  return {ReceiveStatus::kAccepted, ""};
}

void CollectingState::drop(ClientId id, const std::string& reason, bool offence) {
  if (!is_participant(id)) return;
  if (committed(id)) {
    // Its masked input is already in the running sum and cannot be taken out again; it
    // stays a survivor (its self mask is removed from its neighbours' shares).
    if (offence) data_->offences.push_back(Offence{id, *stage(), reason + " (input already counted; kept)"});
    return;
  }
  asked_[id] = 0;
  if (auto it = accepted_.find(id); it != accepted_.end()) {
    scrub(it->second);
    accepted_.erase(it);
  }
  fingerprints_.erase(id);
  if (offence) data_->offences.push_back(Offence{id, *stage(), reason});
}

std::size_t CollectingState::buffered_bytes() const {
  std::size_t total = 0;
  for (const auto& [id, m] : accepted_) total += m.ByteSizeLong();
  return total;
}

void CollectingState::discard_all() {
  for (auto& [id, m] : accepted_) scrub(m);
  accepted_.clear();
  fingerprints_.clear();
}

std::vector<ClientId> CollectingState::responders() const {
  std::vector<ClientId> out;
  out.reserve(accepted_.size());
  for (const auto& [id, _] : accepted_) out.push_back(id);  // std::map: sorted
  return out;
}

ServerTransition CollectingState::abort(const std::string& reason) {
  ServerTransition tr;
  for (ClientId id = 0; id < asked_.size(); ++id) {
    if (!asked_[id]) continue;
    Outgoing o{id, {}};
    *o.message.mutable_header() = make_header(data_->config, *stage());
    o.message.mutable_abort()->set_reason(reason);
    tr.outgoing.push_back(std::move(o));
  }
  // Nothing partial survives an abort: the running sum and all stored messages go.
  discard_all();
  std::fill(data_->sum.begin(), data_->sum.end(), 0);
  data_->sum.clear();
  data_->words_owed.clear();
  tr.next = std::make_unique<ServerFinishedState>(RoundAborted{*stage(), reason});
  return tr;
}

ServerTransition ServerFinishedState::close() {
  throw SecAggError("close_stage called after the round finished (" + std::string(name()) + ")");
}

std::vector<char> membership(const std::vector<ClientId>& ids, std::uint32_t n) {
  std::vector<char> m(n, 0);
  for (ClientId id : ids) m.at(id) = 1;
  return m;
}

std::vector<ClientId> prune_to_threshold(const RoundData& d, std::vector<ClientId> members) {
  const std::uint32_t t = d.config.params.threshold;
  for (bool changed = true; changed;) {
    changed = false;
    const auto in = membership(members, d.config.num_clients);
    std::vector<ClientId> kept;
    for (ClientId u : members) {
      std::size_t live = 0;
      for (ClientId v : d.graph().neighbours(u)) live += in[v] ? 1 : 0;
      if (live + 1 >= t) {
        kept.push_back(u);
      } else {
        changed = true;
      }
    }
    members = std::move(kept);
  }
  return members;
}

std::size_t components(const NeighbourGraph& g, const std::vector<ClientId>& members) {
  const auto in = membership(members, g.num_nodes());
  std::vector<char> seen(g.num_nodes(), 0);
  std::size_t count = 0;
  for (ClientId s : members) {
    if (seen[s]) continue;
    ++count;
    std::deque<ClientId> queue{s};
    seen[s] = 1;
    while (!queue.empty()) {
      const ClientId u = queue.front();
      queue.pop_front();
      if (g.kind() == GraphKind::kComplete) {
        for (ClientId v : members) {
          if (!seen[v]) seen[v] = 1, queue.push_back(v);
        }
      } else {
        for (ClientId v : g.neighbours(u)) {
          if (in[v] && !seen[v]) seen[v] = 1, queue.push_back(v);
        }
      }
    }
  }
  return count;
}

std::optional<std::string> reconstruction_infeasible(const RoundData& d, const std::vector<ClientId>& holders) {
  const std::uint32_t t = d.config.params.threshold;
  const auto in = membership(holders, d.config.num_clients);
  for (ClientId u : d.u3) {
    const auto acc = d.accusers.find(u);
    std::size_t h = in[u] ? 1 : 0;
    for (ClientId v : d.graph().neighbours(u)) {
      if (in[v] && (acc == d.accusers.end() || !acc->second.count(v))) ++h;
    }
    if (h < t) {
      return "survivor " + std::to_string(u) + " has " + std::to_string(h) +
             " shareholders of its self-mask seed left, below t = " + std::to_string(t);
    }
  }
  for (ClientId x : d.dropped) {
    const auto acc = d.accusers.find(x);
    std::size_t h = 0;
    for (ClientId v : d.graph().neighbours(x)) {
      if (in[v] && (acc == d.accusers.end() || !acc->second.count(v))) ++h;
    }
    if (h < t) {
      return "dropped client " + std::to_string(x) + " has " + std::to_string(h) +
             " shareholders of its mask key left, below t = " + std::to_string(t);
    }
  }
  return std::nullopt;
}

}  // namespace fedlora::secagg::server
