#include "secure-agg/crypto/gmac.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "secure-agg/errors.h"

namespace fedlora::secagg::crypto {

Tag16 gmac_aes256(const Secret32& key, const GcmNonce& iv, ByteSpan data) {
  static EVP_MAC* mac = EVP_MAC_fetch(nullptr, "GMAC", nullptr);
  if (mac == nullptr) throw CryptoError("EVP_MAC_fetch(GMAC) failed");
  EVP_MAC_CTX* ctx = EVP_MAC_CTX_new(mac);
  if (ctx == nullptr) throw CryptoError("EVP_MAC_CTX_new(GMAC) failed");
  char cipher[] = "AES-256-GCM";
  // OSSL_PARAM wants a non-const pointer; OpenSSL only reads the IV.
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_CIPHER, cipher, 0),
      OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_IV, const_cast<std::uint8_t*>(iv.data()), iv.size()),
      OSSL_PARAM_construct_end(),
  };
  Tag16 tag{};
  std::size_t len = 0;
  bool ok = EVP_MAC_init(ctx, key.data(), key.size(), params) == 1;
  constexpr std::size_t kPiece = std::size_t{1} << 30;
  for (std::size_t off = 0; ok && off < data.size(); off += kPiece) {
    ok = EVP_MAC_update(ctx, data.data() + off, std::min(kPiece, data.size() - off)) == 1;
  }
  ok = ok && EVP_MAC_final(ctx, tag.data(), &len, tag.size()) == 1 && len == tag.size();
  EVP_MAC_CTX_free(ctx);
  if (!ok) throw CryptoError("GMAC-AES-256 failed");
  return tag;
}

}  // namespace fedlora::secagg::crypto
