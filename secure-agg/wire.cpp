#include "secure-agg/wire.h"

#include "secure-agg/crypto/bytes.h"
#include "secure-agg/errors.h"

namespace fedlora::secagg {

pb::Header make_header(const RoundConfig& cfg, Stage stage) {
  pb::Header h;
  h.set_session_id(cfg.session_id.data(), cfg.session_id.size());
  h.set_round(cfg.round);
  h.set_stage(static_cast<pb::Stage>(stage));
  return h;
}

std::optional<Stage> body_stage(const pb::ClientToServer& m) {
  switch (m.body_case()) {
    case pb::ClientToServer::kAdvertiseKeys: return Stage::kAdvertiseKeys;
    case pb::ClientToServer::kShareKeys: return Stage::kShareKeys;
    case pb::ClientToServer::kMaskedInput: return Stage::kMaskedInputCollection;
    case pb::ClientToServer::kConsistencyCheck: return Stage::kConsistencyCheck;
    case pb::ClientToServer::kUnmasking: return Stage::kUnmasking;
    default: return std::nullopt;
  }
}

std::optional<Stage> body_stage(const pb::ServerToClient& m) {
  switch (m.body_case()) {
    case pb::ServerToClient::kShareKeys: return Stage::kShareKeys;
    case pb::ServerToClient::kMaskedInput: return Stage::kMaskedInputCollection;
    case pb::ServerToClient::kConsistencyCheck: return Stage::kConsistencyCheck;
    case pb::ServerToClient::kUnmasking: return Stage::kUnmasking;
    default: return std::nullopt;
  }
}

std::optional<std::string> session_mismatch(const pb::Header& h, const RoundConfig& cfg) {
  if (!crypto::constant_time_equal(bytes_of(h.session_id()), cfg.session_id)) {
    return std::string("message belongs to another session (replayed or misrouted)");
  }
  if (h.round() != cfg.round) {
    return "message belongs to round " + std::to_string(h.round()) + ", not " + std::to_string(cfg.round);
  }
  return std::nullopt;
}

namespace {
template <class ByteVector>
void put_u32(ByteVector& b, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) b.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}
std::uint32_t get_u32(crypto::ByteSpan b, std::size_t off) {
  std::uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = v << 8 | b[off + static_cast<std::size_t>(i)];
  return v;
}
constexpr std::uint8_t kBundleVersion = 1;
}  // namespace

crypto::SecretBytes encode_bundle(const ShareBundle& b) {
  crypto::SecretBytes out;
  out.reserve(kShareBundleBytes);
  out.push_back(kBundleVersion);
  put_u32(out, b.sender);
  put_u32(out, b.recipient);
  for (const ShamirShare* s : {&b.mask_key_share, &b.seed_share}) {
    if (s->y.size() != kSecretShareChunks) throw ConfigError("share bundle: share has wrong size");
    const auto e = encode_share_elements(*s);
    out.insert(out.end(), e.begin(), e.end());
  }
  return out;
}

ShareBundle decode_bundle(crypto::ByteSpan bytes) {
  if (bytes.size() != kShareBundleBytes) {
    throw ProtocolError("share bundle has " + std::to_string(bytes.size()) + " bytes, expected " +
                        std::to_string(kShareBundleBytes));
  }
  if (bytes[0] != kBundleVersion) throw ProtocolError("share bundle has unknown version");
  ShareBundle b;
  b.sender = get_u32(bytes, 1);
  b.recipient = get_u32(bytes, 5);
  const std::uint32_t x = b.recipient + 1;
  b.mask_key_share = decode_share_elements(x, bytes.subspan(9, kSecretShareBytes), kSecretShareChunks);
  b.seed_share = decode_share_elements(x, bytes.subspan(9 + kSecretShareBytes, kSecretShareBytes), kSecretShareChunks);
  return b;
}

}  // namespace fedlora::secagg
