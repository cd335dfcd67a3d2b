#include "secure-agg/crypto/aes_ctr_prng.h"

#include <openssl/evp.h>

#include <algorithm>
#include <array>

#include "secure-agg/errors.h"

namespace fedlora::secagg::crypto {
namespace {

const EVP_CIPHER* aes256_ctr() {
  // Fetched once: EVP_CIPHER objects are reference counted and thread-safe to share.
  static EVP_CIPHER* cipher = EVP_CIPHER_fetch(nullptr, "AES-256-CTR", nullptr);
  if (cipher == nullptr) throw CryptoError("EVP_CIPHER_fetch(AES-256-CTR) failed");
  return cipher;
}

// CTR keystream = encryption of zeros; a static zero block avoids a memset per call.
constexpr std::size_t kZeroChunk = 16384;
alignas(64) const std::array<std::uint8_t, kZeroChunk> kZeros{};

}  // namespace

AesCtrPrng::AesCtrPrng(const Secret32& key) {
  const std::array<std::uint8_t, 16> zero_iv{};
  *this = AesCtrPrng(key, std::span<const std::uint8_t, 16>(zero_iv));
}

AesCtrPrng::AesCtrPrng(const Secret32& key, std::span<const std::uint8_t, 16> iv) {
  ctx_ = EVP_CIPHER_CTX_new();
  if (ctx_ == nullptr) throw CryptoError("EVP_CIPHER_CTX_new failed");
  if (EVP_EncryptInit_ex2(ctx_, aes256_ctr(), key.data(), iv.data(), nullptr) != 1) {
    EVP_CIPHER_CTX_free(ctx_);
    ctx_ = nullptr;
    throw CryptoError("EVP_EncryptInit_ex2(AES-256-CTR) failed");
  }
}

AesCtrPrng::~AesCtrPrng() { EVP_CIPHER_CTX_free(ctx_); }

AesCtrPrng::AesCtrPrng(AesCtrPrng&& o) noexcept : ctx_(o.ctx_) { o.ctx_ = nullptr; }

AesCtrPrng& AesCtrPrng::operator=(AesCtrPrng&& o) noexcept {
  if (this != &o) {
    EVP_CIPHER_CTX_free(ctx_);
    ctx_ = o.ctx_;
    o.ctx_ = nullptr;
  }
  return *this;
}

void AesCtrPrng::fill(std::span<std::uint8_t> out) {
  if (ctx_ == nullptr) throw CryptoError("AesCtrPrng used after move");
  std::size_t done = 0;
  while (done < out.size()) {
    const std::size_t n = std::min(kZeroChunk, out.size() - done);
    int outl = 0;
    if (EVP_EncryptUpdate(ctx_, out.data() + done, &outl, kZeros.data(), static_cast<int>(n)) !=
            1 ||
        static_cast<std::size_t>(outl) != n) {
      throw CryptoError("EVP_EncryptUpdate(AES-256-CTR) failed");
    }
    done += n;
  }
}

}  // namespace fedlora::secagg::crypto
