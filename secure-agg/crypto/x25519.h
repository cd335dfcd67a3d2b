#pragma once
// X25519 key agreement (RFC 7748 §5) through OpenSSL EVP_PKEY_X25519.
#include <array>
#include <cstdint>
#include <memory>

#include "secure-agg/crypto/bytes.h"
#include "secure-agg/crypto/random.h"

struct evp_pkey_st;

namespace fedlora::secagg::crypto {

using X25519PublicKey = std::array<std::uint8_t, 32>;

/// An X25519 private key (RFC 7748 §5: 32 bytes, clamped by the scalar multiplication).
/// Move-only; OpenSSL wipes the key material when the EVP_PKEY is freed.
class X25519PrivateKey {
 public:
  /// 32 fresh bytes from rng as the private scalar. Throws CryptoError.
  static X25519PrivateKey generate(RandomSource& rng);
  /// From the 32-byte little-endian scalar encoding (RFC 7748 §5). Throws CryptoError.
  static X25519PrivateKey from_bytes(const Secret32& raw);

  X25519PrivateKey(X25519PrivateKey&&) noexcept;
  X25519PrivateKey& operator=(X25519PrivateKey&&) noexcept;
  X25519PrivateKey(const X25519PrivateKey&) = delete;
  X25519PrivateKey& operator=(const X25519PrivateKey&) = delete;
  ~X25519PrivateKey();

  /// X25519(k, 9): the 32-byte public u-coordinate.
  X25519PublicKey public_key() const;
  /// The raw 32-byte private scalar (for Shamir sharing of s_sk in SecAgg).
  Secret32 raw() const;
  /// X25519(k, peer): the 32-byte shared secret. Never use it as a key directly: feed it
  /// to HKDF. Throws CryptoError if peer is a small-order point (all-zero output,
  /// RFC 7748 §6.1) or OpenSSL fails.
  Secret32 agree(const X25519PublicKey& peer) const;

 private:
  explicit X25519PrivateKey(evp_pkey_st* pkey) : pkey_(pkey) {}
  evp_pkey_st* pkey_ = nullptr;
};

/// Canonical encoding of a u-coordinate: bit 255 cleared (RFC 7748 §5: "implementations
/// MUST mask the most significant bit in the final byte") and the value reduced modulo
/// p = 2^255 - 19. Two encodings are the same key iff their canonical forms are equal;
/// duplicate-key checks compare these, never raw bytes.
X25519PublicKey x25519_canonical(const X25519PublicKey& pk);

/// True if X25519 with this public key yields a non-zero shared secret, i.e. the point
/// is not of small order. Used by the server to reject degenerate advertised keys.
bool x25519_public_key_is_usable(const X25519PublicKey& pk);

}  // namespace fedlora::secagg::crypto
