#include "secure-agg/key_derivation.h"

#include <algorithm>
#include <string_view>

#include "secure-agg/crypto/hkdf.h"

namespace fedlora::secagg {
namespace {

constexpr std::string_view kDomain = "fedlora-secagg/v1";

void put_u32(crypto::Bytes& b, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) b.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}
void put_u64(crypto::Bytes& b, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) b.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}

crypto::Bytes context(std::string_view label, const RoundConfig& cfg) {
  crypto::Bytes b(kDomain.begin(), kDomain.end());
  b.push_back(' ');
  b.insert(b.end(), label.begin(), label.end());
  b.push_back(0);
  b.insert(b.end(), cfg.session_id.begin(), cfg.session_id.end());
  put_u64(b, cfg.round);
  return b;
}

crypto::Secret32 derive(const crypto::Secret32& ikm, const RoundConfig& cfg, const crypto::Bytes& info) {
  crypto::Secret32 out;
  crypto::hkdf_sha256(ikm.span(), cfg.session_id, info, out.mutable_span());
  return out;
}

}  // namespace

crypto::Secret32 share_encryption_key(const crypto::Secret32& c_shared, const RoundConfig& cfg,
                                      ClientId sender, ClientId recipient) {
  auto info = context("share-encryption", cfg);
  put_u32(info, sender);
  put_u32(info, recipient);
  return derive(c_shared, cfg, info);
}

crypto::Bytes share_aad(const RoundConfig& cfg, ClientId sender, ClientId recipient) {
  auto aad = context("share-aad", cfg);
  aad.push_back(static_cast<std::uint8_t>(Stage::kShareKeys));
  put_u32(aad, sender);
  put_u32(aad, recipient);
  return aad;
}

crypto::Secret32 pairwise_mask_key(const crypto::Secret32& s_shared, const RoundConfig& cfg,
                                   ClientId u, ClientId v) {
  auto info = context("pairwise-mask", cfg);
  put_u32(info, std::min(u, v));
  put_u32(info, std::max(u, v));
  put_u32(info, cfg.word_bits);
  return derive(s_shared, cfg, info);
}

crypto::Secret32 self_mask_key(const crypto::Secret32& b, const RoundConfig& cfg, ClientId u) {
  auto info = context("self-mask", cfg);
  put_u32(info, u);
  put_u32(info, cfg.word_bits);
  return derive(b, cfg, info);
}

crypto::Digest32 self_mask_commitment(const crypto::Secret32& b, const RoundConfig& cfg, ClientId u) {
  auto prefix = context("self-mask-commitment", cfg);
  put_u32(prefix, u);
  return crypto::sha256({prefix, b.span()});
}

crypto::Secret32 consistency_mac_key(const crypto::Secret32& c_shared, const RoundConfig& cfg,
                                     ClientId sender, ClientId recipient) {
  auto info = context("consistency-mac", cfg);
  put_u32(info, sender);
  put_u32(info, recipient);
  return derive(c_shared, cfg, info);
}

crypto::Digest32 view_hash(const RoundConfig& cfg, std::span<const ClientId> survivors,
                           std::span<const ClientId> dropped) {
  auto b = context("view", cfg);
  put_u32(b, static_cast<std::uint32_t>(survivors.size()));
  for (ClientId u : survivors) put_u32(b, u);
  put_u32(b, static_cast<std::uint32_t>(dropped.size()));
  for (ClientId u : dropped) put_u32(b, u);
  return crypto::sha256({b});
}

}  // namespace fedlora::secagg
