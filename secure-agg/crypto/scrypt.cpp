#include "secure-agg/crypto/scrypt.h"

#include <openssl/core_names.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

#include <string>

#include "secure-agg/errors.h"

namespace fedlora::secagg::crypto {

void scrypt(ByteSpan password, ByteSpan salt, unsigned log2_n, std::uint32_t r, std::uint32_t p,
            std::span<std::uint8_t> out) {
  if (log2_n < 1 || log2_n > kMaxScryptLog2N || r == 0 || p == 0 || out.empty()) {
    throw CryptoError("scrypt: log2(N) = " + std::to_string(log2_n) + " must be in [1, " +
                      std::to_string(kMaxScryptLog2N) + "], r and p positive, output non-empty");
  }
  static EVP_KDF* kdf = EVP_KDF_fetch(nullptr, "SCRYPT", nullptr);
  if (kdf == nullptr) throw CryptoError("EVP_KDF_fetch(SCRYPT) failed");
  EVP_KDF_CTX* ctx = EVP_KDF_CTX_new(kdf);
  if (ctx == nullptr) throw CryptoError("EVP_KDF_CTX_new(SCRYPT) failed");
  std::uint64_t n = std::uint64_t{1} << log2_n;
  std::uint64_t maxmem = 2 * 128 * std::uint64_t{r} * n + (std::uint64_t{1} << 20);  // room for OpenSSL's own buffers
  // OSSL_PARAM wants non-const pointers; OpenSSL only reads these buffers. An empty
  // password or salt still needs a non-null pointer.
  static std::uint8_t empty = 0;
  auto* pw = password.empty() ? &empty : const_cast<std::uint8_t*>(password.data());
  auto* s = salt.empty() ? &empty : const_cast<std::uint8_t*>(salt.data());
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_PASSWORD, pw, password.size()),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, s, salt.size()),
      OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_SCRYPT_N, &n),
      OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_R, &r),
      OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_P, &p),
      OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_SCRYPT_MAXMEM, &maxmem),
      OSSL_PARAM_construct_end(),
  };
  const int ok = EVP_KDF_derive(ctx, out.data(), out.size(), params);
  EVP_KDF_CTX_free(ctx);
  if (ok != 1) throw CryptoError("EVP_KDF_derive(SCRYPT) failed (out of memory?)");
}

}  // namespace fedlora::secagg::crypto
