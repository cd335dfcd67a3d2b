#include <algorithm>

#include "secure-agg/client/client_states.h"
#include "secure-agg/crypto/aes_gcm.h"
#include "secure-agg/errors.h"
#include "secure-agg/key_derivation.h"
#include "secure-agg/masking.h"

namespace fedlora::secagg::client {

ClientR2MaskedInputState::ClientR2MaskedInputState(ContextPtr ctx, ChannelSecrets channels,
                                                   crypto::X25519PrivateKey s_key, crypto::Secret32 b,
                                                   ShamirShare own_seed_share, std::map<ClientId, PeerKeys> peers)
    : ctx_(std::move(ctx)),
      channels_(std::move(channels)),
      s_key_(std::move(s_key)),
      b_(b),
      own_seed_share_(std::move(own_seed_share)),
      peers_(std::move(peers)) {}

ClientTransition ClientR2MaskedInputState::handle(const pb::ServerToClient& msg) {
  const RoundConfig& cfg = ctx_->config;
  const ClientId self = ctx_->id;
  const auto& req = msg.masked_input();
  if (!ctx_->input) {
    throw ProtocolError("the input was not set before MaskedInputCollection; call set_input earlier");
  }

  UnmaskingMaterial m{std::move(channels_), {}, {}, std::move(own_seed_share_)};
  std::vector<ClientId> bad;
  for (const auto& e : req.shares()) {
    const ClientId v = e.peer_id();
    const auto it = m.channels.find(v);
    if (it == m.channels.end()) {
      throw ProtocolError("MaskedInputRequest carries a bundle from client " + std::to_string(v) +
                          ", which did not advertise keys to this client");
    }
    if (std::find(m.live.begin(), m.live.end(), v) != m.live.end()) {
      throw ProtocolError("MaskedInputRequest carries two bundles from client " + std::to_string(v));
    }
    m.live.push_back(v);
    // A bundle that fails to authenticate or parse is the sender's (or the network's)
    // fault: report it instead of aborting. v still counts as live, so the pairwise mask
    // with v is applied and cancels; the server excludes v (see ServerR2).
    std::optional<ShareBundle> bundle;
    if (e.nonce().size() == crypto::kGcmNonceBytes) {
      crypto::GcmNonce nonce{};
      std::copy(e.nonce().begin(), e.nonce().end(), nonce.begin());
      const crypto::Secret32 key = share_encryption_key(it->second, cfg, v, self);
      if (auto plain = crypto::aes256_gcm_open(key, nonce, bytes_of(e.ciphertext()), share_aad(cfg, v, self))) {
        try {
          ShareBundle b = decode_bundle(*plain);
          if (b.sender == v && b.recipient == self) bundle = std::move(b);
        } catch (const ProtocolError&) {
        }
      }
    }
    if (bundle) {
      m.received.emplace(v, std::move(*bundle));
    } else {
      bad.push_back(v);
    }
  }
  std::sort(m.live.begin(), m.live.end());
  if (m.live.size() < ctx_->min_live) {
    throw PolicyError("isolation: only " + std::to_string(m.live.size()) + " neighbours shared keys; this client " +
                      "masks its input only with at least " + std::to_string(ctx_->min_live) +
                      " live neighbours (threshold t = " + std::to_string(cfg.params.threshold) + ")");
  }

  // y = x + PRG(b) + sum_{v live} (+PRG(s_uv) if u < v, -PRG(s_uv) if u > v)  (mod 2^w)
  std::vector<MaskSpec> masks;
  masks.reserve(m.live.size() + 1);
  masks.push_back(MaskSpec{self_mask_key(b_, cfg, self), false});
  for (ClientId v : m.live) {
    const crypto::Secret32 shared = s_key_.agree(peers_.at(v).s_pk);
    masks.push_back(MaskSpec{pairwise_mask_key(shared, cfg, self, v), self > v});
  }
  std::vector<std::uint64_t> y = std::move(*ctx_->input);
  ctx_->input.reset();
  apply_masks(y, masks, cfg.word_bytes());
  reduce(y, cfg.word_bits);

  pb::ClientToServer out;
  *out.mutable_header() = make_header(cfg, Stage::kMaskedInputCollection);
  auto* mi = out.mutable_masked_input();
  mi->set_words(pack_words(y, cfg.word_bytes()));
  for (ClientId v : bad) mi->add_bad_share_senders(v);

  ClientTransition tr;
  tr.reply = std::move(out);
  if (cfg.consistency_check) {
    tr.next = std::make_unique<ClientR3ConsistencyCheckState>(ctx_, std::move(m));
  } else {
    tr.next = std::make_unique<ClientR4UnmaskingState>(ctx_, std::move(m), std::nullopt);
  }
  return tr;
}

}  // namespace fedlora::secagg::client
