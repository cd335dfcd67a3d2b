#pragma once
// Ed25519 signatures (RFC 8032 §5.1, "pure" Ed25519) through OpenSSL EVP_PKEY_ED25519.
// Used for long-term device identity keys that sign each round's key-agreement keys
// (Bonawitz et al. CCS'17, §"Active adversary": a PKI lets clients authenticate the
// public keys the server relays), and for the optional enrolment authority.
#include <array>
#include <cstdint>
#include <string>

#include "secure-agg/crypto/bytes.h"
#include "secure-agg/crypto/random.h"

struct evp_pkey_st;

namespace fedlora::secagg::crypto {

using Ed25519PublicKey = std::array<std::uint8_t, 32>;
using Ed25519Signature = std::array<std::uint8_t, 64>;

/// An Ed25519 private key (the 32-byte seed of RFC 8032 §5.1.5). Copies share the
/// OpenSSL key object (reference counted); OpenSSL wipes it when the last copy goes.
class Ed25519PrivateKey {
 public:
  /// 32 fresh bytes from rng as the seed. Throws CryptoError.
  static Ed25519PrivateKey generate(RandomSource& rng);
  /// From the 32-byte seed (RFC 8032 test vectors use this form). Throws CryptoError.
  static Ed25519PrivateKey from_seed(const Secret32& seed);
  /// From a PKCS#8 PEM ("-----BEGIN PRIVATE KEY-----", as `openssl genpkey
  /// -algorithm ed25519` writes it). Throws CryptoError if it is not an Ed25519 key.
  static Ed25519PrivateKey from_pem(ByteSpan pem);

  Ed25519PrivateKey(const Ed25519PrivateKey& o);
  Ed25519PrivateKey& operator=(const Ed25519PrivateKey& o);
  Ed25519PrivateKey(Ed25519PrivateKey&& o) noexcept;
  Ed25519PrivateKey& operator=(Ed25519PrivateKey&& o) noexcept;
  ~Ed25519PrivateKey();

  Ed25519PublicKey public_key() const;
  /// 64-byte signature of msg (deterministic, RFC 8032 §5.1.6). Throws CryptoError.
  Ed25519Signature sign(ByteSpan msg) const;
  /// PKCS#8 PEM encoding of the private key (secret: wiped when freed).
  SecretBytes to_pem() const;

 private:
  explicit Ed25519PrivateKey(evp_pkey_st* pkey) : pkey_(pkey) {}
  evp_pkey_st* pkey_ = nullptr;
};

/// RFC 8032 §5.1.7 verification (OpenSSL rejects S >= L and malformed points). Returns
/// false for any invalid key, signature or message; never throws for bad input.
bool ed25519_verify(const Ed25519PublicKey& pk, ByteSpan msg, const Ed25519Signature& sig);

}  // namespace fedlora::secagg::crypto
