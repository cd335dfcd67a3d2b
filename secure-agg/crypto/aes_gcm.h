#pragma once
// AES-256-GCM authenticated encryption (NIST SP 800-38D) through OpenSSL EVP.
#include <array>
#include <cstdint>
#include <optional>

#include "secure-agg/crypto/bytes.h"

namespace fedlora::secagg::crypto {

inline constexpr std::size_t kGcmNonceBytes = 12;
inline constexpr std::size_t kGcmTagBytes = 16;
using GcmNonce = std::array<std::uint8_t, kGcmNonceBytes>;

/// Encrypts plaintext under key with a 96-bit nonce and associated data aad.
/// Returns ciphertext || 16-byte tag (size plaintext.size() + 16).
/// A (key, nonce) pair must never be used twice. Throws CryptoError on failure.
Bytes aes256_gcm_seal(const Secret32& key, const GcmNonce& nonce, ByteSpan plaintext, ByteSpan aad);

/// Verifies and decrypts ciphertext || tag (plaintext wiped when freed: it carries
/// secret shares). Returns std::nullopt when the input is
/// shorter than a tag or authentication fails (wrong key, nonce, aad, or tampered
/// bytes): untrusted input never throws. Throws CryptoError only if OpenSSL fails.
std::optional<SecretBytes> aes256_gcm_open(const Secret32& key, const GcmNonce& nonce,
                                     ByteSpan ciphertext_and_tag, ByteSpan aad);

}  // namespace fedlora::secagg::crypto
