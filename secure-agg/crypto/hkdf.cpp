#include "secure-agg/crypto/hkdf.h"

#include <openssl/core_names.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

#include <string>

#include "secure-agg/errors.h"

namespace fedlora::secagg::crypto {
namespace {
EVP_KDF* hkdf_kdf() {
  static EVP_KDF* kdf = EVP_KDF_fetch(nullptr, "HKDF", nullptr);
  if (kdf == nullptr) throw CryptoError("EVP_KDF_fetch(HKDF) failed");
  return kdf;
}
}  // namespace

void hkdf_sha256(ByteSpan ikm, ByteSpan salt, ByteSpan info, std::span<std::uint8_t> out) {
  if (out.empty() || out.size() > 255 * 32) {
    throw CryptoError("hkdf_sha256: output length " + std::to_string(out.size()) +
                      " outside [1, 8160]");
  }
  EVP_KDF_CTX* ctx = EVP_KDF_CTX_new(hkdf_kdf());
  if (ctx == nullptr) throw CryptoError("EVP_KDF_CTX_new(HKDF) failed");
  char digest[] = "SHA256";
  // OSSL_PARAM wants non-const pointers; OpenSSL only reads these buffers.
  auto* key = const_cast<std::uint8_t*>(ikm.data());
  auto* s = const_cast<std::uint8_t*>(salt.data());
  auto* inf = const_cast<std::uint8_t*>(info.data());
  OSSL_PARAM params[5];
  int p = 0;
  params[p++] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0);
  params[p++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, key, ikm.size());
  if (!salt.empty()) params[p++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, s, salt.size());
  if (!info.empty()) params[p++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, inf, info.size());
  params[p] = OSSL_PARAM_construct_end();
  const int ok = EVP_KDF_derive(ctx, out.data(), out.size(), params);
  EVP_KDF_CTX_free(ctx);
  if (ok != 1) throw CryptoError("EVP_KDF_derive(HKDF-SHA256) failed");
}

}  // namespace fedlora::secagg::crypto
