#include <algorithm>
#include <set>

#include "secure-agg/crypto/gmac.h"
#include "secure-agg/errors.h"
#include "secure-agg/masking.h"
#include "secure-agg/server/server_states.h"
#include "secure-agg/wire.h"

namespace fedlora::secagg::server {

ServerR2MaskedInputState::ServerR2MaskedInputState(DataPtr data) : CollectingState(data, data->u2) {
  data_->sum.assign(data_->config.vector_length, 0);
}

crypto::Digest32 ServerR2MaskedInputState::fingerprint(const pb::ClientToServer& msg) const {
  // SHA-256 of the small rest of the message and of a GMAC of the masked words under a
  // fixed public key (a GHASH polynomial hash, ~6x faster than SHA-256 here). It needs no
  // collision resistance: it only decides whether a second message from a client whose
  // input already counts is logged as a retransmission or as an equivocation, and either
  // way that message is ignored. Two different honest messages (independent masks)
  // collide with probability about m / 2^128.
  static const crypto::Secret32 kKey;  // all zero: public
  static const crypto::GcmNonce kIv{};
  pb::ClientToServer rest;
  *rest.mutable_header() = msg.header();
  *rest.mutable_masked_input()->mutable_bad_share_senders() = msg.masked_input().bad_share_senders();
  const std::string head = rest.SerializeAsString();
  const auto words = crypto::gmac_aes256(kKey, kIv, crypto::as_bytes(msg.masked_input().words()));
  return crypto::sha256({crypto::as_bytes(head), words});
}

void ServerR2MaskedInputState::accept(ClientId id, pb::ClientToServer& msg) {
  RoundData& d = *data_;
  auto* mi = msg.mutable_masked_input();
  const std::uint64_t expected = d.words_elsewhere ? 0 : d.config.vector_length * d.config.word_bytes();
  if (mi->words().size() != expected) {
    throw ProtocolError("masked input has " + std::to_string(mi->words().size()) + " bytes, expected " +
                        std::to_string(expected));
  }
  const auto in = membership(d.u2, d.config.num_clients);
  std::set<ClientId> seen;
  for (ClientId v : mi->bad_share_senders()) {
    if (v >= d.config.num_clients || !in[v] || !d.graph().are_neighbours(id, v) || !seen.insert(v).second) {
      throw ProtocolError("masked input reports a bad bundle from client " + std::to_string(v) +
                          ", which did not send this client one (or is reported twice)");
    }
  }
  // Valid: the input counts from now on. Fold it into the running sum and keep nothing
  // of it but the fingerprint (for retransmissions) and the bad-bundle reports.
  if (d.words_elsewhere) {
    d.words_owed.insert(id);
  } else {
    add_packed_into(d.sum, mi->words(), d.config.word_bytes());
  }
  for (ClientId v : mi->bad_share_senders()) d.accusers[v].insert(id);
  std::string().swap(*mi->mutable_words());
}

ServerTransition ServerR2MaskedInputState::close() {
  RoundData& d = *data_;
  const std::uint32_t n = d.config.num_clients;
  if (!d.words_owed.empty()) {
    return abort(std::to_string(d.words_owed.size()) +
                 " masked inputs were accepted without their words, and their sum never arrived");
  }
  // A neighbour u that could not decrypt v's bundle holds no share of v's secrets and
  // will send none. v itself is not excluded: if its input already counts it stays a
  // survivor (b_v is rebuilt from the other holders), otherwise it is dropped as usual
  // (s_sk_v is rebuilt from the other holders). Only if too few holders remain does the
  // round abort (reconstruction_infeasible below).
  d.u3 = responders();
  const auto in3 = membership(d.u3, n);
  for (const auto& [v, who] : d.accusers) {
    d.offences.push_back(Offence{v, Stage::kMaskedInputCollection,
                                 "sent a share bundle that " + std::to_string(who.size()) +
                                     " neighbour(s) could not decrypt or parse" +
                                     (in3[v] ? " (its input counts; its seed is rebuilt from the other holders)"
                                             : "")});
  }
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
  if (const std::size_t c = components(d.graph(), d.u3); c > 1) {
    return abort("the survivors' neighbour graph split into " + std::to_string(c) +
                 " components; unmasking would reveal partial sums");
  }
  discard_all();

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
