#include "privacy/noise/noise_source.h"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "privacy/errors.h"
#include "privacy/noise/ziggurat.h"

namespace fedlora::privacy {
namespace {

[[noreturn]] void throw_openssl(const char* what) {
  char buf[256] = "no OpenSSL error queued";
  if (unsigned long e = ERR_get_error(); e != 0) ERR_error_string_n(e, buf, sizeof(buf));
  throw CryptoError(std::string("NoiseSource: ") + what + " failed: " + buf);
}

void append_le64(std::vector<std::uint8_t>& out, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}

void check_stddev(double stddev) {
  if (!(stddev >= 0.0) || std::isinf(stddev)) {
    throw InvalidPrivacyParameter("NoiseSource: noise standard deviation " +
                                  std::to_string(stddev) + " must be finite and >= 0");
  }
}

constexpr double kTwoPowMinus53 = 0x1p-53;

}  // namespace

void NoiseSource::CipherDeleter::operator()(void* ctx) const noexcept {
  EVP_CIPHER_CTX_free(static_cast<EVP_CIPHER_CTX*>(ctx));
}

NoiseSource::NoiseSource(const std::array<std::uint8_t, 32>& key, bool deterministic)
    : ctx_(EVP_CIPHER_CTX_new()), deterministic_(deterministic) {
  if (!ctx_) throw_openssl("EVP_CIPHER_CTX_new");
  const std::array<std::uint8_t, 16> iv{};  // counter starts at 0; each key is fresh
  if (EVP_EncryptInit_ex(static_cast<EVP_CIPHER_CTX*>(ctx_.get()), EVP_aes_256_ctr(), nullptr,
                         key.data(), iv.data()) != 1) {
    throw_openssl("EVP_EncryptInit_ex(aes-256-ctr)");
  }
}

NoiseSource::NoiseSource(NoiseSource&&) noexcept = default;
NoiseSource& NoiseSource::operator=(NoiseSource&&) noexcept = default;
NoiseSource::~NoiseSource() { OPENSSL_cleanse(buffer_.data(), sizeof(buffer_)); }

NoiseSource NoiseSource::from_os_entropy() {
  std::array<std::uint8_t, 32> key{};
  if (RAND_bytes(key.data(), static_cast<int>(key.size())) != 1) {
    throw_openssl("RAND_bytes (OS entropy for production noise)");
  }
  NoiseSource source(key, /*deterministic=*/false);
  OPENSSL_cleanse(key.data(), key.size());
  return source;
}

NoiseSource NoiseSource::from_seed(std::uint64_t run_seed,
                                   std::span<const std::uint64_t> stream_ids) {
  constexpr std::string_view kDomain = "fedlora/privacy/noise/v1";
  std::vector<std::uint8_t> message(kDomain.begin(), kDomain.end());
  append_le64(message, run_seed);
  append_le64(message, stream_ids.size());
  for (std::uint64_t id : stream_ids) append_le64(message, id);
  std::array<std::uint8_t, 32> key{};
  unsigned int len = 0;
  if (EVP_Digest(message.data(), message.size(), key.data(), &len, EVP_sha256(), nullptr) !=
          1 ||
      len != key.size()) {
    throw_openssl("EVP_Digest(sha256) for the simulation noise key");
  }
  return NoiseSource(key, /*deterministic=*/true);
}

NoiseSource NoiseSource::from_seed(std::uint64_t run_seed,
                                   std::initializer_list<std::uint64_t> stream_ids) {
  return from_seed(run_seed, std::span<const std::uint64_t>(stream_ids.begin(), stream_ids.size()));
}

void NoiseSource::refill() {
  auto* bytes = reinterpret_cast<unsigned char*>(buffer_.data());
  constexpr int kBytes = static_cast<int>(sizeof(buffer_));
  std::memset(bytes, 0, kBytes);
  int out_len = 0;
  // CTR keystream = AES_k(counter) XOR 0; OpenSSL allows in == out for stream modes.
  if (EVP_EncryptUpdate(static_cast<EVP_CIPHER_CTX*>(ctx_.get()), bytes, &out_len, bytes,
                        kBytes) != 1 ||
      out_len != kBytes) {
    throw_openssl("EVP_EncryptUpdate(aes-256-ctr)");
  }
  if constexpr (std::endian::native == std::endian::big) {
    for (auto& w : buffer_) w = __builtin_bswap64(w);  // streams are defined little-endian
  }
  next_ = 0;
}

std::uint64_t NoiseSource::next_u64() {
  if (next_ == kBufferWords) refill();
  return buffer_[next_++];
}

double NoiseSource::uniform() { return static_cast<double>(next_u64() >> 11) * kTwoPowMinus53; }

double NoiseSource::uniform_open_zero() {
  return static_cast<double>((next_u64() >> 11) + 1) * kTwoPowMinus53;
}

bool NoiseSource::bernoulli(double p) {
  if (!(p >= 0.0 && p <= 1.0)) {
    throw InvalidPrivacyParameter("NoiseSource::bernoulli: probability " + std::to_string(p) +
                                  " is outside [0, 1]");
  }
  return uniform() < p;
}

double NoiseSource::gaussian() {
  return ziggurat::standard_normal([this] { return next_u64(); });
}

void NoiseSource::fill_gaussian(std::span<float> out, double stddev) {
  check_stddev(stddev);
  for (float& v : out) v = static_cast<float>(stddev * gaussian());
}

void NoiseSource::add_gaussian(std::span<float> inout, double stddev) {
  check_stddev(stddev);
  for (float& v : inout) v = static_cast<float>(static_cast<double>(v) + stddev * gaussian());
}

void NoiseSource::fill_gaussian(std::span<double> out, double stddev) {
  check_stddev(stddev);
  for (double& v : out) v = stddev * gaussian();
}

void NoiseSource::add_gaussian(std::span<double> inout, double stddev) {
  check_stddev(stddev);
  for (double& v : inout) v += stddev * gaussian();
}

}  // namespace fedlora::privacy
