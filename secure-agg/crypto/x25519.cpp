#include "secure-agg/crypto/x25519.h"

#include <openssl/evp.h>

#include <cstring>

#include "secure-agg/errors.h"

namespace fedlora::secagg::crypto {

X25519PrivateKey X25519PrivateKey::generate(RandomSource& rng) {
  return from_bytes(rng.secret32());
}

X25519PrivateKey X25519PrivateKey::from_bytes(const Secret32& raw) {
  EVP_PKEY* pkey = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, nullptr, raw.data(), 32);
  if (pkey == nullptr) throw CryptoError("EVP_PKEY_new_raw_private_key(X25519) failed");
  return X25519PrivateKey(pkey);
}

X25519PrivateKey::X25519PrivateKey(X25519PrivateKey&& o) noexcept : pkey_(o.pkey_) {
  o.pkey_ = nullptr;
}

X25519PrivateKey& X25519PrivateKey::operator=(X25519PrivateKey&& o) noexcept {
  if (this != &o) {
    EVP_PKEY_free(pkey_);
    pkey_ = o.pkey_;
    o.pkey_ = nullptr;
  }
  return *this;
}

X25519PrivateKey::~X25519PrivateKey() { EVP_PKEY_free(pkey_); }

X25519PublicKey X25519PrivateKey::public_key() const {
  X25519PublicKey pk{};
  std::size_t len = pk.size();
  if (pkey_ == nullptr || EVP_PKEY_get_raw_public_key(pkey_, pk.data(), &len) != 1 || len != 32) {
    throw CryptoError("EVP_PKEY_get_raw_public_key(X25519) failed");
  }
  return pk;
}

Secret32 X25519PrivateKey::raw() const {
  Secret32 out;
  std::size_t len = 32;
  if (pkey_ == nullptr || EVP_PKEY_get_raw_private_key(pkey_, out.data(), &len) != 1 || len != 32) {
    throw CryptoError("EVP_PKEY_get_raw_private_key(X25519) failed");
  }
  return out;
}

Secret32 X25519PrivateKey::agree(const X25519PublicKey& peer) const {
  if (pkey_ == nullptr) throw CryptoError("X25519 key used after move");
  EVP_PKEY* peer_key = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, nullptr, peer.data(), 32);
  if (peer_key == nullptr) throw CryptoError("EVP_PKEY_new_raw_public_key(X25519) failed");
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_from_pkey(nullptr, pkey_, nullptr);
  Secret32 out;
  std::size_t len = 32;
  const bool ok = ctx != nullptr && EVP_PKEY_derive_init(ctx) == 1 &&
                  EVP_PKEY_derive_set_peer(ctx, peer_key) == 1 &&
                  EVP_PKEY_derive(ctx, out.data(), &len) == 1 && len == 32;
  EVP_PKEY_CTX_free(ctx);
  EVP_PKEY_free(peer_key);
  if (!ok) {
    throw CryptoError("X25519 key agreement failed: the peer public key is of small order "
                      "or invalid (RFC 7748 §6.1); drop that peer");
  }
  // OpenSSL rejects the all-zero output itself; checked again so this never depends on
  // a provider detail.
  static constexpr std::array<std::uint8_t, 32> kZero{};
  if (constant_time_equal(out.span(), kZero)) {
    throw CryptoError("X25519 produced the all-zero shared secret (small-order peer key)");
  }
  return out;
}

X25519PublicKey x25519_canonical(const X25519PublicKey& pk) {
  X25519PublicKey c = pk;
  c[31] &= 0x7f;
  // v >= p = 2^255 - 19 iff bytes 1..30 are 0xff, byte 31 is 0x7f and byte 0 >= 0xed;
  // then v - p = byte0 - 0xed < 19.
  bool ge_p = c[31] == 0x7f && c[0] >= 0xed;
  for (std::size_t i = 1; ge_p && i < 31; ++i) ge_p = c[i] == 0xff;
  if (ge_p) {
    const auto low = static_cast<std::uint8_t>(c[0] - 0xed);
    c.fill(0);
    c[0] = low;
  }
  return c;
}

bool x25519_public_key_is_usable(const X25519PublicKey& pk) {
  // Any clamped scalar maps a small-order point to zero; a fixed test scalar suffices.
  static const X25519PrivateKey probe = [] {
    Secret32 k;
    for (std::size_t i = 0; i < 32; ++i) k.data()[i] = static_cast<std::uint8_t>(0x5a ^ i);
    return X25519PrivateKey::from_bytes(k);
  }();
  try {
    (void)probe.agree(pk);
    return true;
  } catch (const CryptoError&) {
    return false;
  }
}

}  // namespace fedlora::secagg::crypto
