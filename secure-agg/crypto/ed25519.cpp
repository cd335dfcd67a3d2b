#include "secure-agg/crypto/ed25519.h"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <climits>
#include <memory>

#include "secure-agg/errors.h"

namespace fedlora::secagg::crypto {
namespace {

struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};

}  // namespace

Ed25519PrivateKey Ed25519PrivateKey::generate(RandomSource& rng) { return from_seed(rng.secret32()); }

Ed25519PrivateKey Ed25519PrivateKey::from_seed(const Secret32& seed) {
  EVP_PKEY* pkey = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, seed.data(), 32);
  if (pkey == nullptr) throw CryptoError("EVP_PKEY_new_raw_private_key(Ed25519) failed");
  return Ed25519PrivateKey(pkey);
}

Ed25519PrivateKey Ed25519PrivateKey::from_pem(ByteSpan pem) {
  if (pem.size() > INT_MAX) throw CryptoError("Ed25519 PEM input is too large");
  std::unique_ptr<BIO, BioFree> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) throw CryptoError("BIO_new_mem_buf failed");
  EVP_PKEY* pkey = PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr);
  if (pkey == nullptr) throw CryptoError("not a PKCS#8 PEM private key (expected '-----BEGIN PRIVATE KEY-----')");
  if (EVP_PKEY_get_id(pkey) != EVP_PKEY_ED25519) {
    EVP_PKEY_free(pkey);
    throw CryptoError("the PEM private key is not an Ed25519 key");
  }
  return Ed25519PrivateKey(pkey);
}

Ed25519PrivateKey::Ed25519PrivateKey(const Ed25519PrivateKey& o) : pkey_(o.pkey_) {
  if (pkey_ != nullptr) EVP_PKEY_up_ref(pkey_);
}

Ed25519PrivateKey& Ed25519PrivateKey::operator=(const Ed25519PrivateKey& o) {
  if (this != &o) {
    if (o.pkey_ != nullptr) EVP_PKEY_up_ref(o.pkey_);
    EVP_PKEY_free(pkey_);
    pkey_ = o.pkey_;
  }
  return *this;
}

Ed25519PrivateKey::Ed25519PrivateKey(Ed25519PrivateKey&& o) noexcept : pkey_(o.pkey_) { o.pkey_ = nullptr; }

Ed25519PrivateKey& Ed25519PrivateKey::operator=(Ed25519PrivateKey&& o) noexcept {
  if (this != &o) {
    EVP_PKEY_free(pkey_);
    pkey_ = o.pkey_;
    o.pkey_ = nullptr;
  }
  return *this;
}

Ed25519PrivateKey::~Ed25519PrivateKey() { EVP_PKEY_free(pkey_); }

Ed25519PublicKey Ed25519PrivateKey::public_key() const {
  Ed25519PublicKey pk{};
  std::size_t len = pk.size();
  if (pkey_ == nullptr || EVP_PKEY_get_raw_public_key(pkey_, pk.data(), &len) != 1 || len != 32) {
    throw CryptoError("EVP_PKEY_get_raw_public_key(Ed25519) failed");
  }
  return pk;
}

Ed25519Signature Ed25519PrivateKey::sign(ByteSpan msg) const {
  if (pkey_ == nullptr) throw CryptoError("Ed25519 key used after move");
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
  Ed25519Signature sig{};
  std::size_t len = sig.size();
  // Ed25519 is a one-shot signature: no digest is configured (RFC 8032 hashes internally).
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, pkey_) != 1 ||
      EVP_DigestSign(ctx.get(), sig.data(), &len, msg.data(), msg.size()) != 1 || len != sig.size()) {
    throw CryptoError("Ed25519 signing failed");
  }
  return sig;
}

SecretBytes Ed25519PrivateKey::to_pem() const {
  if (pkey_ == nullptr) throw CryptoError("Ed25519 key used after move");
  std::unique_ptr<BIO, BioFree> bio(BIO_new(BIO_s_secmem()));
  if (!bio) bio.reset(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PrivateKey(bio.get(), pkey_, nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    throw CryptoError("PEM_write_bio_PrivateKey(Ed25519) failed");
  }
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio.get(), &data);
  if (len <= 0 || data == nullptr) throw CryptoError("PEM encoding of the Ed25519 key is empty");
  SecretBytes out(reinterpret_cast<const std::uint8_t*>(data), reinterpret_cast<const std::uint8_t*>(data) + len);
  cleanse(data, static_cast<std::size_t>(len));
  return out;
}

bool ed25519_verify(const Ed25519PublicKey& pk, ByteSpan msg, const Ed25519Signature& sig) {
  std::unique_ptr<EVP_PKEY, PkeyFree> key(EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, pk.data(), pk.size()));
  if (!key) return false;
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, key.get()) != 1) return false;
  return EVP_DigestVerify(ctx.get(), sig.data(), sig.size(), msg.data(), msg.size()) == 1;
}

}  // namespace fedlora::secagg::crypto
