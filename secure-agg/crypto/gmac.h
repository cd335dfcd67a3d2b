#pragma once
// GMAC (NIST SP 800-38D §6.4: GCM with data only as AAD) with AES-256, through OpenSSL's
// EVP_MAC "GMAC". Used with a fixed public key as a fast fingerprint of masked inputs
// (not a MAC then: anyone can compute it; see ServerR2MaskedInputState::fingerprint).
#include <array>
#include <cstdint>

#include "secure-agg/crypto/aes_gcm.h"
#include "secure-agg/crypto/bytes.h"

namespace fedlora::secagg::crypto {

using Tag16 = std::array<std::uint8_t, 16>;

/// GMAC-AES-256(key, iv, data): equal to the tag of aes256_gcm_seal(key, iv, {}, data).
/// Any data length (fed in pieces). Throws CryptoError if OpenSSL fails.
Tag16 gmac_aes256(const Secret32& key, const GcmNonce& iv, ByteSpan data);

}  // namespace fedlora::secagg::crypto
