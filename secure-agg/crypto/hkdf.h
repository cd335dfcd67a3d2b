#pragma once
// HKDF-SHA256 (RFC 5869) through OpenSSL's EVP_KDF "HKDF".
#include <cstdint>
#include <span>

#include "secure-agg/crypto/bytes.h"

namespace fedlora::secagg::crypto {

/// Extract-then-expand HKDF with SHA-256 (RFC 5869 §2). An empty salt means the
/// RFC's default (HashLen zero bytes). out.size() must be in [1, 255*32].
/// Throws CryptoError on failure.
void hkdf_sha256(ByteSpan ikm, ByteSpan salt, ByteSpan info, std::span<std::uint8_t> out);

}  // namespace fedlora::secagg::crypto
