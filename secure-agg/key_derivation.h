#pragma once
// Every key of the protocol, each from HKDF-SHA256 (RFC 5869) with salt = session id
// and info = purpose label || session id || round || party ids, so that no raw X25519
// output is ever used as a key and no key serves two purposes, rounds or sessions.
// Bonawitz et al. CCS'17 primitives (KA.agree followed by a KDF; AE for shares; PRG for masks).
#include <cstdint>
#include <span>

#include "secure-agg/crypto/bytes.h"
#include "secure-agg/crypto/sha256.h"
#include "secure-agg/round_config.h"

namespace fedlora::secagg {

/// AES-256-GCM key for the share bundle sender -> recipient (directional).
crypto::Secret32 share_encryption_key(const crypto::Secret32& c_shared, const RoundConfig& cfg,
                                      ClientId sender, ClientId recipient);
/// Associated data of that ciphertext: binds session, round, stage, sender, recipient.
crypto::Bytes share_aad(const RoundConfig& cfg, ClientId sender, ClientId recipient);
/// AES-256-CTR key of the pairwise mask between u and v (symmetric in u, v).
crypto::Secret32 pairwise_mask_key(const crypto::Secret32& s_shared, const RoundConfig& cfg,
                                   ClientId u, ClientId v);
/// AES-256-CTR key of u's self mask, from its 32-byte seed b_u.
crypto::Secret32 self_mask_key(const crypto::Secret32& b, const RoundConfig& cfg, ClientId u);
/// SHA-256 commitment to b_u, sent to the server with the shares, checked after
/// reconstruction so a wrong share cannot silently corrupt the sum.
crypto::Digest32 self_mask_commitment(const crypto::Secret32& b, const RoundConfig& cfg, ClientId u);
/// HMAC-SHA256 key for consistency tags sender -> recipient (directional).
crypto::Secret32 consistency_mac_key(const crypto::Secret32& c_shared, const RoundConfig& cfg,
                                     ClientId sender, ClientId recipient);
/// Hash of the server's view (sorted survivors U3, sorted dropped U2 \ U3).
crypto::Digest32 view_hash(const RoundConfig& cfg, std::span<const ClientId> survivors,
                           std::span<const ClientId> dropped);

}  // namespace fedlora::secagg
