// NoiseSource: the documented key derivation and AES-256-CTR stream (checked against
// OpenSSL's raw AES-256-ECB and SHA-256), the ziggurat's construction, and the
// distribution of its normals (moments, Kolmogorov–Smirnov against Φ, tail frequencies).
#include "privacy/noise/noise_source.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <utility>
#include <string_view>
#include <vector>

#include "privacy/errors.h"
#include "privacy/noise/gaussian_noise.h"
#include "privacy/noise/ziggurat.h"

namespace fedlora::privacy {
namespace {

std::array<std::uint8_t, 32> sha256(const std::vector<std::uint8_t>& m) {
  std::array<std::uint8_t, 32> out{};
  unsigned int len = 0;
  EVP_Digest(m.data(), m.size(), out.data(), &len, EVP_sha256(), nullptr);
  return out;
}

std::array<std::uint8_t, 16> aes256_block(const std::array<std::uint8_t, 32>& key,
                                          const std::array<std::uint8_t, 16>& in) {
  std::array<std::uint8_t, 16> out{};
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  int len = 0;
  EVP_EncryptInit_ex(ctx, EVP_aes_256_ecb(), nullptr, key.data(), nullptr);
  EVP_CIPHER_CTX_set_padding(ctx, 0);
  EVP_EncryptUpdate(ctx, out.data(), &len, in.data(), 16);
  EVP_CIPHER_CTX_free(ctx);
  return out;
}

std::uint64_t le64(const std::uint8_t* p) {
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= static_cast<std::uint64_t>(p[i]) << (8 * i);
  return v;
}

TEST(NoiseSource, SeededStreamIsAes256CtrUnderDocumentedKey) {
  // key = SHA-256("fedlora/privacy/noise/v1" ‖ le64(seed) ‖ le64(#ids) ‖ le64(ids)…),
  // keystream block i = AES-256_key(i as a 128-bit big-endian counter).
  const std::uint64_t seed = 0x0123456789abcdefULL;
  const std::uint64_t ids[] = {7, 1u << 20};
  std::vector<std::uint8_t> msg;
  for (char c : std::string_view("fedlora/privacy/noise/v1")) msg.push_back(c);
  for (std::uint64_t v : {seed, std::uint64_t{2}, ids[0], ids[1]}) {
    for (int i = 0; i < 8; ++i) msg.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
  }
  const auto key = sha256(msg);
  std::array<std::uint8_t, 16> counter{};
  const auto block0 = aes256_block(key, counter);
  counter[15] = 1;
  const auto block1 = aes256_block(key, counter);

  NoiseSource s = NoiseSource::from_seed(seed, ids);
  EXPECT_TRUE(s.deterministic());
  EXPECT_EQ(s.next_u64(), le64(block0.data()));
  EXPECT_EQ(s.next_u64(), le64(block0.data() + 8));
  EXPECT_EQ(s.next_u64(), le64(block1.data()));
}

TEST(NoiseSource, SeededStreamsAreReproducibleAndSeparated) {
  auto draw = [](NoiseSource s) {
    std::vector<std::uint64_t> v(3000);  // crosses a keystream refill
    for (auto& x : v) x = s.next_u64();
    return v;
  };
  const auto a = draw(NoiseSource::from_seed(42, {1, 2}));
  EXPECT_EQ(a, draw(NoiseSource::from_seed(42, {1, 2})));
  EXPECT_NE(a, draw(NoiseSource::from_seed(42, {1, 3})));
  EXPECT_NE(a, draw(NoiseSource::from_seed(43, {1, 2})));
  EXPECT_NE(a, draw(NoiseSource::from_seed(42, {1, 2, 0})));  // ids are length-prefixed
  EXPECT_NE(a, draw(NoiseSource::from_seed(42, {})));
}

TEST(NoiseSource, OsEntropyStreamsDiffer) {
  NoiseSource a = NoiseSource::from_os_entropy();
  NoiseSource b = NoiseSource::from_os_entropy();
  EXPECT_FALSE(a.deterministic());
  std::vector<std::uint64_t> va(4), vb(4);
  for (int i = 0; i < 4; ++i) {
    va[i] = a.next_u64();
    vb[i] = b.next_u64();
  }
  EXPECT_NE(va, vb);  // 2^-256 chance of a false failure
}

TEST(Ziggurat, TablesSatisfyEqualAreaConstruction) {
  const auto& t = ziggurat::tables();
  const double v = ziggurat::kV, r = ziggurat::kR;
  EXPECT_EQ(t.x[1], r);
  EXPECT_EQ(t.x[256], 0.0);
  for (int i = 0; i < 256; ++i) ASSERT_GT(t.x[i], t.x[i + 1]) << i;
  // Base layer: rectangle r·f(r) plus the tail ∫_r^∞ f = √(π/2)·erfc(r/√2) has area v.
  const double tail = std::sqrt(M_PI / 2) * std::erfc(r / std::sqrt(2.0));
  EXPECT_NEAR(r * std::exp(-r * r / 2) + tail, v, v * 1e-9);
  // Top layer (closed by the recursion, not forced): x[255]·(1 − f(x[255])) = v.
  EXPECT_NEAR(t.x[255] * (1.0 - t.f[255]), v, v * 1e-6);
}

// The largest |z| of the sampler (ziggurat.h): words fed through standard_normal() in the
// documented layout. Word 1: layer 0, sign +, uniform (2^53 − 1)·2^−53, so x = u·x[0] ≈ 3.91
// lies beyond r = x[1] and the tail is taken. Then pairs (U1, U2) with Uk = ((w >> 11) + 1)·2^−53.
// The bound 12.225414447225950 = r − ln(225·2^−53)/r was derived with 50-digit arithmetic
// (√(106 ln 2) = 8.57167434865 bounds a; k = 225 is the first accepted grid point).
TEST(Ziggurat, LargestAttainableSampleIsAtTheDocumentedBound) {
  constexpr std::uint64_t kTailWord = ((std::uint64_t{1} << 53) - 1) << 11;  // layer 0, +
  auto feed = [](std::vector<std::uint64_t> words) {
    std::size_t i = 0;
    const double z = ziggurat::standard_normal([&] {
      if (i >= words.size()) throw std::runtime_error("sampler asked for more words");
      return words[i++];
    });
    return std::pair{z, i};
  };
  const std::uint64_t u2_smallest = 0;                 // U2 = 2^−53: −ln U2 = 53 ln 2
  const std::uint64_t u1_k225 = std::uint64_t{224} << 11;  // U1 = 225·2^−53
  const std::uint64_t u1_k224 = std::uint64_t{223} << 11;  // U1 = 224·2^−53
  const auto [z, used] = feed({kTailWord, u1_k225, u2_smallest});
  EXPECT_EQ(z, ziggurat::kMaxAbsSample);
  EXPECT_EQ(z, 12.225414447225950);
  EXPECT_EQ(used, 3u);
  // k = 224 is rejected even with the most favourable U2: the sampler draws a new pair.
  const auto [z2, used2] = feed({kTailWord, u1_k224, u2_smallest, u1_k225, u2_smallest});
  EXPECT_EQ(z2, ziggurat::kMaxAbsSample);
  EXPECT_EQ(used2, 5u);
  // The sign bit mirrors it.
  const auto [z3, used3] = feed({kTailWord | (1u << 8), u1_k225, u2_smallest});
  EXPECT_EQ(z3, -ziggurat::kMaxAbsSample);
  // Any other accepted tail pair is smaller: scan every U1 grid point from k = 225 up to
  // 2^16 with the most favourable U2 (a decreases with k).
  double previous = z;
  for (std::uint64_t k = 226; k < 65536; k += 97) {
    const double zk = feed({kTailWord, (k - 1) << 11, u2_smallest}).first;
    ASSERT_LT(zk, previous) << k;
    previous = zk;
  }
}

TEST(Ziggurat, NoiseSourceUsesTheSameSampler) {
  NoiseSource a = NoiseSource::from_seed(99, {1});
  NoiseSource words = NoiseSource::from_seed(99, {1});
  for (int i = 0; i < 1000; ++i) {
    EXPECT_EQ(a.gaussian(), ziggurat::standard_normal([&] { return words.next_u64(); }));
  }
}

double phi(double x) { return 0.5 * std::erfc(-x / std::sqrt(2.0)); }

TEST(NoiseSource, GaussianMatchesStandardNormal) {
  NoiseSource s = NoiseSource::from_seed(2024, {0});
  constexpr int kN = 1000000;
  std::vector<double> z(kN);
  s.fill_gaussian(std::span<double>(z), 1.0);
  double sum = 0, sum2 = 0, sum4 = 0;
  int negative = 0;
  for (double x : z) {
    sum += x;
    sum2 += x * x;
    sum4 += x * x * x * x;
    negative += x < 0;
  }
  const double mean = sum / kN, var = sum2 / kN - mean * mean;
  EXPECT_NEAR(mean, 0.0, 5.0 / std::sqrt(kN));
  EXPECT_NEAR(var, 1.0, 5.0 * std::sqrt(2.0 / kN));
  EXPECT_NEAR(sum4 / kN, 3.0, 5.0 * std::sqrt(96.0 / kN));  // Var(z⁴) = 96
  EXPECT_NEAR(negative, kN / 2, 5.0 * std::sqrt(kN / 4.0));

  // Kolmogorov–Smirnov against Φ: critical value at p = 0.001 is 1.95/√n.
  std::sort(z.begin(), z.end());
  double d = 0;
  for (int i = 0; i < kN; ++i) {
    const double f = phi(z[i]);
    d = std::max({d, f - static_cast<double>(i) / kN, static_cast<double>(i + 1) / kN - f});
  }
  EXPECT_LT(d, 1.95 / std::sqrt(kN));

  // Tail frequencies, including beyond r where the ziggurat's tail algorithm runs.
  for (double cut : {2.0, 3.0, ziggurat::kR, 4.0}) {
    const auto beyond = std::count_if(z.begin(), z.end(), [&](double x) { return std::fabs(x) > cut; });
    const double expected = kN * std::erfc(cut / std::sqrt(2.0));
    EXPECT_NEAR(static_cast<double>(beyond), expected, 5.0 * std::sqrt(expected) + 1) << cut;
  }
}

TEST(NoiseSource, ScaledNoiseStdWithinThreePercentOverAMillionDraws) {
  // The acceptance test: empirical std of N(0, σ²C²) noise within 3 % of σC.
  const double sigma = 1.1, clip = 0.75;
  NoiseSource s = NoiseSource::from_seed(7, {1});
  std::vector<float> v(1000000, 0.0f);
  add_gaussian_noise(v, sigma * clip, s);
  double sum2 = 0;
  for (float x : v) sum2 += static_cast<double>(x) * x;
  const double sd = std::sqrt(sum2 / v.size());
  EXPECT_NEAR(sd, sigma * clip, 0.03 * sigma * clip);
  EXPECT_NEAR(sd, sigma * clip, 0.005 * sigma * clip);  // actual sampling error is ~0.07 %
}

TEST(NoiseSource, AddEqualsFillOnZeros) {
  NoiseSource a = NoiseSource::from_seed(5, {9});
  NoiseSource b = NoiseSource::from_seed(5, {9});
  std::vector<float> filled(1000), added(1000, 0.0f);
  a.fill_gaussian(std::span<float>(filled), 2.0);
  b.add_gaussian(std::span<float>(added), 2.0);
  EXPECT_EQ(filled, added);
}

TEST(NoiseSource, UniformsAndBernoulli) {
  NoiseSource s = NoiseSource::from_seed(11, {});
  double sum = 0;
  for (int i = 0; i < 100000; ++i) {
    const double u = s.uniform(), w = s.uniform_open_zero();
    ASSERT_GE(u, 0.0);
    ASSERT_LT(u, 1.0);
    ASSERT_GT(w, 0.0);
    ASSERT_LE(w, 1.0);
    sum += u;
  }
  EXPECT_NEAR(sum / 100000, 0.5, 5 * std::sqrt(1.0 / 12 / 100000));
  for (int i = 0; i < 1000; ++i) {
    ASSERT_FALSE(s.bernoulli(0.0));
    ASSERT_TRUE(s.bernoulli(1.0));
  }
  EXPECT_THROW(s.bernoulli(1.5), InvalidPrivacyParameter);
  EXPECT_THROW(s.bernoulli(std::nan("")), InvalidPrivacyParameter);
}

TEST(NoiseSource, RejectsBadStddevAndNonFiniteInput) {
  NoiseSource s = NoiseSource::from_seed(1, {});
  std::vector<float> v(4, 1.0f);
  EXPECT_THROW(s.add_gaussian(std::span<float>(v), -1.0), InvalidPrivacyParameter);
  EXPECT_THROW(s.add_gaussian(std::span<float>(v), std::nan("")), InvalidPrivacyParameter);
  EXPECT_THROW(add_gaussian_noise(v, INFINITY, s), InvalidPrivacyParameter);
  v[2] = std::nanf("");
  EXPECT_THROW(add_gaussian_noise(v, 1.0, s), NonFiniteValueError);
  EXPECT_EQ(v[0], 1.0f);  // nothing added before the check
}

}  // namespace
}  // namespace fedlora::privacy
