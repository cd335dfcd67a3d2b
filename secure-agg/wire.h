#pragma once
// Helpers around the protobuf messages of proto/secagg.proto: headers, stage of a
// message body, and the plaintext share bundle that travels inside AES-GCM.
#include <optional>
#include <string>

#include "proto/secagg.pb.h"
#include "secure-agg/crypto/bytes.h"
#include "secure-agg/round_config.h"
#include "secure-agg/shamir.h"

namespace fedlora::secagg {

/// Bytes of one encoded Shamir share of a 32-byte secret (5 elements of 8 bytes).
inline constexpr std::size_t kSecretShareBytes = 8 * ((32 + kShamirChunkBytes - 1) / kShamirChunkBytes);
inline constexpr std::size_t kSecretShareChunks = kSecretShareBytes / 8;

pb::Header make_header(const RoundConfig& cfg, Stage stage);

/// Stage a body belongs to; nullopt for Abort or an empty body.
std::optional<Stage> body_stage(const pb::ClientToServer& m);
std::optional<Stage> body_stage(const pb::ServerToClient& m);

/// Why a header does not belong to this session and round (nullopt if it does).
/// Stage is not checked here: the state machines compare it with their state.
std::optional<std::string> session_mismatch(const pb::Header& h, const RoundConfig& cfg);

/// Plaintext of one encrypted share (Bonawitz et al. CCS'17, round 1 ShareKeys: u || v || shares).
struct ShareBundle {
  ClientId sender = 0;
  ClientId recipient = 0;
  ShamirShare mask_key_share;  ///< share of s_sk (x = recipient + 1)
  ShamirShare seed_share;      ///< share of b (x = recipient + 1)
};

inline constexpr std::size_t kShareBundleBytes = 1 + 4 + 4 + 2 * kSecretShareBytes;

/// Plaintext bundle (secret: wiped when freed).
crypto::SecretBytes encode_bundle(const ShareBundle& b);
/// Throws ProtocolError on wrong length, version or out-of-field elements.
ShareBundle decode_bundle(crypto::ByteSpan bytes);

/// Byte string of a protobuf bytes field as a span.
inline crypto::ByteSpan bytes_of(const std::string& s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

}  // namespace fedlora::secagg
