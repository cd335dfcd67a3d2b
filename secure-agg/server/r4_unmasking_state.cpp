#include <algorithm>
#include <functional>
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

void ServerR4UnmaskingState::scrub(pb::ClientToServer& msg) const {
  if (!msg.has_unmasking()) return;
  for (auto& ks : *msg.mutable_unmasking()->mutable_shares()) {
    if (ks.share_case() == pb::KeyShare::kSelfMaskSeedShare) crypto::cleanse(*ks.mutable_self_mask_seed_share());
    if (ks.share_case() == pb::KeyShare::kMaskKeyShare) crypto::cleanse(*ks.mutable_mask_key_share());
  }
}

void ServerR4UnmaskingState::accept(ClientId id, pb::ClientToServer& msg) {
  RoundData& d = *data_;
  const std::uint32_t n = d.config.num_clients;
  const auto in3 = membership(d.u3, n);
  const auto in_dropped = membership(d.dropped, n);
  std::set<ClientId> seen;
  std::vector<int> malformed;
  auto* shares = msg.mutable_unmasking()->mutable_shares();
  for (int i = 0; i < shares->size(); ++i) {
    auto& ks = *shares->Mutable(i);
    const ClientId v = ks.owner_id();
    if (v >= n || !seen.insert(v).second) throw ProtocolError("unmasking response repeats or misnames owner " + std::to_string(v));
    if (v != id && !d.graph().are_neighbours(id, v)) {
      throw ProtocolError("unmasking response carries a share of client " + std::to_string(v) + ", not a neighbour");
    }
    const auto acc = d.accusers.find(v);
    if (acc != d.accusers.end() && acc->second.count(id)) {
      throw ProtocolError("unmasking response carries a share of client " + std::to_string(v) +
                          " after reporting its bundle as bad");
    }
    // The server asked for exactly one kind per owner; anything else is refused here, so
    // the server never holds both kinds of shares of one client.
    const std::string* bytes = nullptr;
    if (in3[v]) {
      if (ks.share_case() != pb::KeyShare::kSelfMaskSeedShare) {
        throw ProtocolError("unmasking response sends a mask-key share of survivor " + std::to_string(v));
      }
      bytes = &ks.self_mask_seed_share();
    } else if (in_dropped[v] && v != id) {
      if (ks.share_case() != pb::KeyShare::kMaskKeyShare) {
        throw ProtocolError("unmasking response sends a self-mask share of dropped client " + std::to_string(v));
      }
      bytes = &ks.mask_key_share();
    } else {
      throw ProtocolError("unmasking response carries a share of client " + std::to_string(v) +
                          ", which is neither a survivor nor a dropped shareholder");
    }
    // A malformed share (wrong length, element outside the field) costs only that share.
    try {
      (void)decode_share_elements(id + 1, bytes_of(*bytes), kSecretShareChunks);
    } catch (const ProtocolError& e) {
      malformed.push_back(i);
      d.offences.push_back(Offence{id, Stage::kUnmasking,
                                   "sent a malformed share of client " + std::to_string(v) + " (ignored): " + e.what()});
    }
  }
  for (auto it = malformed.rbegin(); it != malformed.rend(); ++it) {
    auto& ks = *shares->Mutable(*it);
    crypto::cleanse(ks.share_case() == pb::KeyShare::kSelfMaskSeedShare ? *ks.mutable_self_mask_seed_share()
                                                                        : *ks.mutable_mask_key_share());
    shares->erase(shares->begin() + *it);
  }
}

namespace {

using LagrangeCache = std::map<std::vector<std::uint32_t>, std::vector<std::uint64_t>>;

struct Rebuilt {
  crypto::Secret32 secret;
  std::vector<ClientId> bad_holders;  // whose shares disagree with the verified secret
};

// Rebuilds a 32-byte secret from t of the shares such that verify(secret) holds. Tries
// the t shares of smallest x first (the honest case), then every other cyclic window of
// t consecutive shares in x order: any single bad share, or any run of up to h - t bad
// shares, is skipped. Lagrange coefficients are cached by evaluation set.
std::optional<Rebuilt> rebuild(std::vector<ShamirShare>& shares, std::uint32_t t, LagrangeCache& cache,
                               const std::function<bool(const crypto::Secret32&)>& verify) {
  std::sort(shares.begin(), shares.end(), [](const ShamirShare& a, const ShamirShare& b) { return a.x < b.x; });
  const std::size_t h = shares.size();
  if (h < t) return std::nullopt;
  std::vector<ShamirShare> window(t);
  std::vector<std::uint32_t> xs(t);
  for (std::size_t start = 0; start < h; ++start) {
    for (std::uint32_t i = 0; i < t; ++i) {
      window[i] = shares[(start + i) % h];
      xs[i] = window[i].x;
    }
    auto it = cache.find(xs);
    if (it == cache.end()) it = cache.emplace(xs, lagrange_at_zero(xs)).first;
    std::optional<crypto::Secret32> secret;
    try {
      secret = crypto::Secret32(shamir_reconstruct_with(window, it->second, 32));
    } catch (const ProtocolError&) {
      continue;  // inconsistent chunk: a share in this window is wrong
    }
    if (!verify(*secret)) continue;
    Rebuilt r{*secret, {}};
    if (h > t) {
      std::vector<ShamirShare> others;
      for (std::size_t j = t; j < h; ++j) others.push_back(shares[(start + j) % h]);
      const auto ok = shamir_consistent_with(window, others);
      for (std::size_t j = 0; j < others.size(); ++j) {
        if (!ok[j]) r.bad_holders.push_back(others[j].x - 1);
      }
    }
    return r;
  }
  return std::nullopt;
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
  discard_all();

  auto report = [&](const std::vector<ClientId>& bad, ClientId owner, const char* what) {
    for (ClientId h : bad) {
      d.offences.push_back(Offence{h, Stage::kUnmasking,
                                   "sent a share of client " + std::to_string(owner) + "'s " + what +
                                       " that disagrees with the other holders' (ignored)"});
    }
  };
  LagrangeCache lagrange_cache;
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
      const auto b = rebuild(sh, t, lagrange_cache, [&](const crypto::Secret32& s) {
        return crypto::constant_time_equal(self_mask_commitment(s, d.config, u), d.commitments[u]);
      });
      if (!b) {
        return abort("no " + std::to_string(t) + " of the " + std::to_string(sh.size()) + " shares of survivor " +
                     std::to_string(u) + "'s self-mask seed reproduce its commitment: too many wrong shares");
      }
      report(b->bad_holders, u, "self-mask seed");
      masks.push_back(MaskSpec{self_mask_key(b->secret, d.config, u), true});
    }
    // Dropped: rebuild s_sk and cancel its pairwise masks with every surviving neighbour w,
    // which added +PRG(s_wd) if w < d and -PRG(s_wd) if w > d. Each pair is expanded once.
    for (ClientId x : d.dropped) {
      auto& sh = key_shares[x];
      if (sh.size() < t) {
        return abort("collected " + std::to_string(sh.size()) + " shares of dropped client " + std::to_string(x) +
                     "'s mask key, below t = " + std::to_string(t));
      }
      const auto expected = crypto::x25519_canonical(d.keys[x]->s_pk);
      const auto raw = rebuild(sh, t, lagrange_cache, [&](const crypto::Secret32& s) {
        return crypto::x25519_canonical(crypto::X25519PrivateKey::from_bytes(s).public_key()) == expected;
      });
      if (!raw) {
        return abort("no " + std::to_string(t) + " of the " + std::to_string(sh.size()) + " shares of dropped client " +
                     std::to_string(x) + "'s mask key reproduce its public key: too many wrong shares");
      }
      report(raw->bad_holders, x, "mask key");
      const auto s_sk = crypto::X25519PrivateKey::from_bytes(raw->secret);
      for (ClientId w : d.graph().neighbours(x)) {
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
