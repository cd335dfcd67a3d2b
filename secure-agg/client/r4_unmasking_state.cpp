#include <algorithm>
#include <set>

#include "secure-agg/client/client_states.h"
#include "secure-agg/crypto/sha256.h"
#include "secure-agg/errors.h"
#include "secure-agg/key_derivation.h"

namespace fedlora::secagg::client {

ClientR4UnmaskingState::ClientR4UnmaskingState(ContextPtr ctx, UnmaskingMaterial m, std::optional<View> checked_view)
    : ctx_(std::move(ctx)), m_(std::move(m)), checked_view_(std::move(checked_view)) {}

ClientTransition ClientR4UnmaskingState::handle(const pb::ServerToClient& msg) {
  const RoundConfig& cfg = ctx_->config;
  const ClientId self = ctx_->id;
  const auto& req = msg.unmasking();
  const View view = parse_view(*ctx_, m_.live, req.survivors(), req.dropped());
  auto is_survivor = [&](ClientId v) { return std::binary_search(view.survivors.begin(), view.survivors.end(), v); };

  if (checked_view_) {
    if (view.survivors != checked_view_->survivors || view.dropped != checked_view_->dropped) {
      throw ProtocolError("unmasking view differs from the one of the consistency check; refused");
    }
    // Count neighbours that proved (by a MAC only they and this client can compute) that
    // they were shown the same view. Bonawitz et al. round 3 uses signatures for this.
    const auto h = view_hash(cfg, view.survivors, view.dropped);
    std::set<ClientId> confirmed;
    for (const auto& tag : req.tags()) {
      const ClientId v = tag.peer_id();
      if (!std::binary_search(m_.live.begin(), m_.live.end(), v) || !is_survivor(v) || confirmed.count(v) ||
          tag.tag().size() != 32) {
        continue;  // not a usable confirmation; counted below against t
      }
      const crypto::Secret32 key = consistency_mac_key(m_.channels.at(v), cfg, v, self);
      const auto expected = crypto::hmac_sha256(key.span(), h);
      if (crypto::constant_time_equal(expected, bytes_of(tag.tag()))) confirmed.insert(v);
    }
    if (confirmed.size() + 1 < cfg.params.threshold) {
      throw ProtocolError("only " + std::to_string(confirmed.size()) +
                          " neighbours confirmed the server's view, below t - 1 = " +
                          std::to_string(cfg.params.threshold - 1) + "; refusing to unmask");
    }
  } else if (req.tags_size() != 0) {
    throw ProtocolError("unmasking request carries consistency tags but the check is disabled");
  }

  pb::ClientToServer out;
  *out.mutable_header() = make_header(cfg, Stage::kUnmasking);
  auto* resp = out.mutable_unmasking();
  {
    auto* own = resp->add_shares();
    own->set_owner_id(self);
    const auto e = encode_share_elements(m_.own_seed_share);
    own->set_self_mask_seed_share(e.data(), e.size());
  }
  for (const auto& [v, bundle] : m_.received) {
    auto* ks = resp->add_shares();
    ks->set_owner_id(v);
    if (is_survivor(v)) {
      const auto e = encode_share_elements(bundle.seed_share);
      ks->set_self_mask_seed_share(e.data(), e.size());
    } else {
      const auto e = encode_share_elements(bundle.mask_key_share);
      ks->set_mask_key_share(e.data(), e.size());
    }
  }
  ClientTransition tr;
  tr.reply = std::move(out);
  tr.next = std::make_unique<ClientCompletedState>();
  return tr;
}

ClientTransition ClientCompletedState::handle(const pb::ServerToClient&) {
  throw ProtocolError("the round is complete; no further message is accepted");
}

ClientTransition ClientAbortedState::handle(const pb::ServerToClient&) {
  throw ProtocolError("the round was aborted (" + reason_ + "); no further message is accepted");
}

}  // namespace fedlora::secagg::client
