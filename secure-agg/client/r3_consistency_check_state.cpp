#include <algorithm>

#include "secure-agg/client/client_states.h"
#include "secure-agg/crypto/sha256.h"
#include "secure-agg/key_derivation.h"

namespace fedlora::secagg::client {

ClientR3ConsistencyCheckState::ClientR3ConsistencyCheckState(ContextPtr ctx, UnmaskingMaterial m)
    : ctx_(std::move(ctx)), m_(std::move(m)) {}

ClientTransition ClientR3ConsistencyCheckState::handle(const pb::ServerToClient& msg) {
  const RoundConfig& cfg = ctx_->config;
  const auto& req = msg.consistency_check();
  View view = parse_view(*ctx_, m_.live, req.survivors(), req.dropped());
  const auto h = view_hash(cfg, view.survivors, view.dropped);

  pb::ClientToServer out;
  *out.mutable_header() = make_header(cfg, Stage::kConsistencyCheck);
  auto* resp = out.mutable_consistency_check();
  for (ClientId v : m_.live) {
    if (!std::binary_search(view.survivors.begin(), view.survivors.end(), v)) continue;
    const crypto::Secret32 key = consistency_mac_key(m_.channels.at(v), cfg, ctx_->id, v);
    const auto tag = crypto::hmac_sha256(key.span(), h);
    auto* t = resp->add_tags();
    t->set_peer_id(v);
    t->set_tag(tag.data(), tag.size());
  }
  ClientTransition tr;
  tr.reply = std::move(out);
  tr.next = std::make_unique<ClientR4UnmaskingState>(ctx_, std::move(m_), std::move(view));
  return tr;
}

}  // namespace fedlora::secagg::client
