#pragma once
// SHA-256 (FIPS 180-4) and HMAC-SHA256 (RFC 2104) through OpenSSL EVP.
#include <array>
#include <cstdint>
#include <initializer_list>

#include "secure-agg/crypto/bytes.h"

namespace fedlora::secagg::crypto {

using Digest32 = std::array<std::uint8_t, 32>;

/// SHA-256 of the concatenation of parts. Throws CryptoError on failure.
Digest32 sha256(std::initializer_list<ByteSpan> parts);

/// HMAC-SHA256(key, data) via EVP_MAC "HMAC". Throws CryptoError on failure.
Digest32 hmac_sha256(ByteSpan key, ByteSpan data);

}  // namespace fedlora::secagg::crypto
