#include "secure-agg/crypto/aes_gcm.h"

#include <openssl/evp.h>

#include <climits>
#include <memory>

#include "secure-agg/errors.h"

namespace fedlora::secagg::crypto {
namespace {

const EVP_CIPHER* aes256_gcm() {
  static EVP_CIPHER* cipher = EVP_CIPHER_fetch(nullptr, "AES-256-GCM", nullptr);
  if (cipher == nullptr) throw CryptoError("EVP_CIPHER_fetch(AES-256-GCM) failed");
  return cipher;
}

struct CtxFree {
  void operator()(EVP_CIPHER_CTX* c) const { EVP_CIPHER_CTX_free(c); }
};
using CtxPtr = std::unique_ptr<EVP_CIPHER_CTX, CtxFree>;

void check_len(std::size_t n, const char* what) {
  if (n > static_cast<std::size_t>(INT_MAX) - 64) {
    throw CryptoError(std::string("AES-GCM: ") + what + " too long");
  }
}

}  // namespace

Bytes aes256_gcm_seal(const Secret32& key, const GcmNonce& nonce, ByteSpan plaintext, ByteSpan aad) {
  check_len(plaintext.size(), "plaintext");
  check_len(aad.size(), "associated data");
  CtxPtr ctx(EVP_CIPHER_CTX_new());
  if (!ctx) throw CryptoError("EVP_CIPHER_CTX_new failed");
  // The default GCM IV length is 12 bytes, which is what we use.
  if (EVP_EncryptInit_ex2(ctx.get(), aes256_gcm(), key.data(), nonce.data(), nullptr) != 1) {
    throw CryptoError("EVP_EncryptInit_ex2(AES-256-GCM) failed");
  }
  int outl = 0;
  if (!aad.empty() &&
      EVP_EncryptUpdate(ctx.get(), nullptr, &outl, aad.data(), static_cast<int>(aad.size())) != 1) {
    throw CryptoError("AES-GCM: adding associated data failed");
  }
  Bytes out(plaintext.size() + kGcmTagBytes);
  int len = 0;
  if (!plaintext.empty() && EVP_EncryptUpdate(ctx.get(), out.data(), &len, plaintext.data(),
                                              static_cast<int>(plaintext.size())) != 1) {
    throw CryptoError("AES-GCM: encryption failed");
  }
  int fin = 0;
  if (EVP_EncryptFinal_ex(ctx.get(), out.data() + len, &fin) != 1 ||
      static_cast<std::size_t>(len + fin) != plaintext.size()) {
    throw CryptoError("AES-GCM: finalisation failed");
  }
  if (EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, static_cast<int>(kGcmTagBytes),
                          out.data() + plaintext.size()) != 1) {
    throw CryptoError("AES-GCM: reading the tag failed");
  }
  return out;
}

std::optional<SecretBytes> aes256_gcm_open(const Secret32& key, const GcmNonce& nonce,
                                     ByteSpan ciphertext_and_tag, ByteSpan aad) {
  if (ciphertext_and_tag.size() < kGcmTagBytes) return std::nullopt;
  check_len(ciphertext_and_tag.size(), "ciphertext");
  check_len(aad.size(), "associated data");
  const std::size_t ct_len = ciphertext_and_tag.size() - kGcmTagBytes;
  CtxPtr ctx(EVP_CIPHER_CTX_new());
  if (!ctx) throw CryptoError("EVP_CIPHER_CTX_new failed");
  if (EVP_DecryptInit_ex2(ctx.get(), aes256_gcm(), key.data(), nonce.data(), nullptr) != 1) {
    throw CryptoError("EVP_DecryptInit_ex2(AES-256-GCM) failed");
  }
  int outl = 0;
  if (!aad.empty() &&
      EVP_DecryptUpdate(ctx.get(), nullptr, &outl, aad.data(), static_cast<int>(aad.size())) != 1) {
    throw CryptoError("AES-GCM: adding associated data failed");
  }
  SecretBytes out(ct_len);
  int len = 0;
  if (ct_len > 0 && EVP_DecryptUpdate(ctx.get(), out.data(), &len, ciphertext_and_tag.data(),
                                      static_cast<int>(ct_len)) != 1) {
    throw CryptoError("AES-GCM: decryption failed");
  }
  // OpenSSL's ctrl takes a non-const buffer but only reads the expected tag.
  auto* tag = const_cast<std::uint8_t*>(ciphertext_and_tag.data() + ct_len);
  if (EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, static_cast<int>(kGcmTagBytes), tag) != 1) {
    throw CryptoError("AES-GCM: setting the expected tag failed");
  }
  int fin = 0;
  if (EVP_DecryptFinal_ex(ctx.get(), out.data() + len, &fin) != 1) {
    return std::nullopt;  // authentication failure (out is wiped as it is freed)
  }
  return out;
}

}  // namespace fedlora::secagg::crypto
