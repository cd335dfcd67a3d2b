#include <algorithm>
#include <set>

#include "secure-agg/crypto/x25519.h"
#include "secure-agg/errors.h"
#include "secure-agg/key_derivation.h"
#include "secure-agg/masking.h"
#include "secure-agg/server/server_states.h"
#include "secure-agg/shamir.h"
#include "secure-agg/wire.h"

namespace fedlora::secagg::server {

ServerR4UnmaskingState::ServerR4UnmaskingState(DataPtr data, const std::vector<ClientId>& asked)
    : CollectingState(data, asked) {}

void ServerR4UnmaskingState::accept(ClientId id, const pb::ClientToServer& msg) {
  const RoundData& d = *data_;
  const std::uint32_t n = d.config.num_clients;
  const auto in3 = membership(d.u3, n);
  const auto in_dropped = membership(d.dropped, n);
  std::set<ClientId> seen;
  for (const auto& ks : msg.unmasking().shares()) {
    const ClientId v = ks.owner_id();
    if (v >= n || !seen.insert(v).second) throw ProtocolError("unmasking response repeats or misnames owner " + std::to_string(v));
    if (v != id && !d.graph.are_neighbours(id, v)) {
      throw ProtocolError("unmasking response carries a share of client " + std::to_string(v) + ", not a neighbour");
    }
    const auto acc = d.accusers.find(v);
    if (acc != d.accusers.end() && acc->second.count(id)) {
      throw ProtocolError("unmasking response carries a share of client " + std::to_string(v) +
                          " after reporting its bundle as bad");
    }
    // The server asked for exactly one kind per owner; anything else is refused here, so
    // the server never holds both kinds of shares of one client.
    if (in3[v]) {
      if (ks.share_case() != pb::KeyShare::kSelfMaskSeedShare) {
        throw ProtocolError("unmasking response sends a mask-key share of survivor " + std::to_string(v));
      }
      (void)decode_share_elements(id + 1, bytes_of(ks.self_mask_seed_share()), kSecretShareChunks);
    } else if (in_dropped[v] && v != id) {
      if (ks.share_case() != pb::KeyShare::kMaskKeyShare) {
        throw ProtocolError("unmasking response sends a self-mask share of dropped client " + std::to_string(v));
      }
      (void)decode_share_elements(id + 1, bytes_of(ks.mask_key_share()), kSecretShareChunks);
    } else {
      throw ProtocolError("unmasking response carries a share of client " + std::to_string(v) +
                          ", which is neither a survivor nor a dropped shareholder");
    }
  }
}

namespace {

// Reconstructs one 32-byte secret from the first t shares (ordered by x); Lagrange
// coefficients are cached by evaluation set, which repeats across owners.
crypto::Secret32 reconstruct(std::vector<ShamirShare>& shares, std::uint32_t t,
                             std::map<std::vector<std::uint32_t>, std::vector<std::uint64_t>>& cache) {
  std::sort(shares.begin(), shares.end(), [](const ShamirShare& a, const ShamirShare& b) { return a.x < b.x; });
  std::vector<std::uint32_t> xs(t);
  for (std::uint32_t i = 0; i < t; ++i) xs[i] = shares[i].x;
  auto it = cache.find(xs);
  if (it == cache.end()) it = cache.emplace(xs, lagrange_at_zero(xs)).first;
  const crypto::Bytes raw = shamir_reconstruct_with(std::span(shares).first(t), it->second, 32);
  return crypto::Secret32(raw);
}

}  // namespace

ServerTransition ServerR4UnmaskingState::close() {
  RoundData& d = *data_;
  const std::uint32_t n = d.config.num_clients;
  const std::uint32_t t = d.config.params.threshold;
  const auto in3 = membership(d.u3, n);
  std::map<ClientId, std::vector<ShamirShare>> seed_shares, key_shares;
  for (const auto& [holder, msg] : accepted_) {
    for (const auto& ks : msg.unmasking().shares()) {
      if (ks.share_case() == pb::KeyShare::kSelfMaskSeedShare) {
        seed_shares[ks.owner_id()].push_back(
            decode_share_elements(holder + 1, bytes_of(ks.self_mask_seed_share()), kSecretShareChunks));
      } else {
        key_shares[ks.owner_id()].push_back(
            decode_share_elements(holder + 1, bytes_of(ks.mask_key_share()), kSecretShareChunks));
      }
    }
  }
  accepted_.clear();

  std::map<std::vector<std::uint32_t>, std::vector<std::uint64_t>> lagrange_cache;
  std::vector<MaskSpec> masks;
  masks.reserve(d.u3.size());
  try {
    // Survivors: remove PRG(b_u).
    for (ClientId u : d.u3) {
      auto& sh = seed_shares[u];
      if (sh.size() < t) {
        return abort("collected " + std::to_string(sh.size()) + " shares of survivor " + std::to_string(u) +
                     "'s self-mask seed, below t = " + std::to_string(t));
      }
      const crypto::Secret32 b = reconstruct(sh, t, lagrange_cache);
      const auto commit = self_mask_commitment(b, d.config, u);
      if (!crypto::constant_time_equal(commit, d.commitments[u])) {
        return abort("reconstructed self-mask seed of survivor " + std::to_string(u) +
                     " does not match its commitment: a shareholder sent a wrong share");
      }
      masks.push_back(MaskSpec{self_mask_key(b, d.config, u), true});
    }
    // Dropped: rebuild s_sk and cancel its pairwise masks with every surviving neighbour w,
    // which added +PRG(s_wd) if w < d and -PRG(s_wd) if w > d. Each pair is expanded once.
    for (ClientId x : d.dropped) {
      auto& sh = key_shares[x];
      if (sh.size() < t) {
        return abort("collected " + std::to_string(sh.size()) + " shares of dropped client " + std::to_string(x) +
                     "'s mask key, below t = " + std::to_string(t));
      }
      const auto s_sk = crypto::X25519PrivateKey::from_bytes(reconstruct(sh, t, lagrange_cache));
      if (s_sk.public_key() != d.keys[x]->s_pk) {
        return abort("reconstructed mask key of dropped client " + std::to_string(x) +
                     " does not match its public key: a shareholder sent a wrong share");
      }
      for (ClientId w : d.graph.neighbours(x)) {
        if (!in3[w]) continue;
        masks.push_back(MaskSpec{pairwise_mask_key(s_sk.agree(d.keys[w]->s_pk), d.config, w, x), w < x});
      }
    }
  } catch (const SecAggError& e) {
    return abort(std::string("share reconstruction failed: ") + e.what());
  }
  apply_masks(d.sum, masks, d.config.word_bytes());
  reduce(d.sum, d.config.word_bits);

  ServerTransition tr;
  tr.next = std::make_unique<ServerFinishedState>(RoundResult{std::move(d.sum), d.u3});
  d.sum.clear();
  return tr;
}

}  // namespace fedlora::secagg::server
