#include "secure-agg/crypto/sha256.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "secure-agg/errors.h"

namespace fedlora::secagg::crypto {
namespace {
const EVP_MD* sha256_md() {
  static EVP_MD* md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  if (md == nullptr) throw CryptoError("EVP_MD_fetch(SHA256) failed");
  return md;
}
EVP_MAC* hmac_mac() {
  static EVP_MAC* mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  if (mac == nullptr) throw CryptoError("EVP_MAC_fetch(HMAC) failed");
  return mac;
}
}  // namespace

Digest32 sha256(std::initializer_list<ByteSpan> parts) {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  if (ctx == nullptr) throw CryptoError("EVP_MD_CTX_new failed");
  bool ok = EVP_DigestInit_ex2(ctx, sha256_md(), nullptr) == 1;
  for (ByteSpan p : parts) ok = ok && EVP_DigestUpdate(ctx, p.data(), p.size()) == 1;
  Digest32 out{};
  unsigned int len = 0;
  ok = ok && EVP_DigestFinal_ex(ctx, out.data(), &len) == 1 && len == 32;
  EVP_MD_CTX_free(ctx);
  if (!ok) throw CryptoError("SHA-256 computation failed");
  return out;
}

Digest32 hmac_sha256(ByteSpan key, ByteSpan data) {
  EVP_MAC_CTX* ctx = EVP_MAC_CTX_new(hmac_mac());
  if (ctx == nullptr) throw CryptoError("EVP_MAC_CTX_new(HMAC) failed");
  char digest[] = "SHA256";
  OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                         OSSL_PARAM_construct_end()};
  Digest32 out{};
  std::size_t len = 0;
  const bool ok = EVP_MAC_init(ctx, key.data(), key.size(), params) == 1 &&
                  EVP_MAC_update(ctx, data.data(), data.size()) == 1 &&
                  EVP_MAC_final(ctx, out.data(), &len, out.size()) == 1 && len == 32;
  EVP_MAC_CTX_free(ctx);
  if (!ok) throw CryptoError("HMAC-SHA256 computation failed");
  return out;
}

}  // namespace fedlora::secagg::crypto
