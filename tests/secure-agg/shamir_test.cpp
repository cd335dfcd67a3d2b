// Shamir sharing over GF(2^61 - 1): field arithmetic against 128-bit reference math,
// a hand-computed polynomial, and reconstruction from every t-subset of the shares.
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>

#include "secure-agg/errors.h"
#include "secure-agg/shamir.h"

namespace fedlora::secagg {
namespace {

constexpr std::uint64_t P = kShamirPrime;

crypto::Bytes plain(const crypto::SecretBytes& s) { return crypto::Bytes(s.begin(), s.end()); }

std::uint64_t ref_mul(std::uint64_t a, std::uint64_t b) {
  return static_cast<std::uint64_t>((static_cast<unsigned __int128>(a) * b) % P);
}

TEST(Gf61, ArithmeticMatchesReferenceModP) {
  crypto::DeterministicRandom rng(3, "gf61");
  const std::uint64_t edge[] = {0, 1, 2, P - 1, P - 2, (std::uint64_t{1} << 60), 12345};
  std::vector<std::uint64_t> xs(std::begin(edge), std::end(edge));
  for (int i = 0; i < 200; ++i) xs.push_back(rng.uniform_below(P));
  for (std::uint64_t a : xs) {
    for (std::uint64_t b : {xs[0], xs[3], xs[6], xs[9], xs[20]}) {
      EXPECT_EQ(Gf61::mul(a, b), ref_mul(a, b));
      EXPECT_EQ(Gf61::add(a, b), static_cast<std::uint64_t>((static_cast<unsigned __int128>(a) + b) % P));
      EXPECT_EQ(Gf61::sub(a, b), static_cast<std::uint64_t>((static_cast<unsigned __int128>(a) + P - b) % P));
    }
    if (a != 0) {
      EXPECT_EQ(ref_mul(a, Gf61::inv(a)), 1u);
    }
  }
  EXPECT_THROW(Gf61::inv(0), ConfigError);
}

// f(x) = 7 + 3x + 2x^2: f(1) = 12, f(2) = 21, f(3) = 34, f(4) = 51.
TEST(Shamir, ReconstructsHandComputedPolynomial) {
  const std::vector<ShamirShare> all = {{1, {12}}, {2, {21}}, {3, {34}}, {4, {51}}};
  for (const auto& subset : std::vector<std::vector<int>>{{0, 1, 2}, {1, 2, 3}, {0, 2, 3}, {3, 0, 1}}) {
    std::vector<ShamirShare> s;
    for (int i : subset) s.push_back(all[static_cast<std::size_t>(i)]);
    const auto secret = shamir_reconstruct(s, 3, 1);
    ASSERT_EQ(secret.size(), 1u);
    EXPECT_EQ(secret[0], 7);
  }
  // Lagrange coefficients at 0 for x = 1, 2, 3 are 3, -3, 1.
  const std::uint32_t xs[] = {1, 2, 3};
  const auto l = lagrange_at_zero(xs);
  EXPECT_EQ(l[0], 3u);
  EXPECT_EQ(l[1], P - 3);
  EXPECT_EQ(l[2], 1u);
}

// Consistency with a basis, against the same hand-computed polynomial: f(5) = 72,
// f(6) = 97, so (6, 98) is off the curve; a second chunk g(x) = 1 + x + x^2 catches a
// share that is right in the first chunk only.
TEST(Shamir, ConsistencyWithABasisNamesTheWrongShares) {
  const std::vector<ShamirShare> basis = {{1, {12, 3}}, {2, {21, 7}}, {3, {34, 13}}};
  const std::vector<ShamirShare> others = {{4, {51, 21}}, {5, {72, 31}}, {6, {98, 43}}, {7, {119, 56}}};
  // g(4) = 21, g(5) = 31, g(6) = 43, g(7) = 57; f(7) = 7 + 21 + 98 = 126 != 119.
  EXPECT_EQ(shamir_consistent_with(basis, others), (std::vector<bool>{true, true, false, false}));
  const std::vector<ShamirShare> second_chunk_off = {{7, {126, 56}}};
  EXPECT_EQ(shamir_consistent_with(basis, second_chunk_off), (std::vector<bool>{false}));
  const std::vector<ShamirShare> good = {{7, {126, 57}}};
  EXPECT_EQ(shamir_consistent_with(basis, good), (std::vector<bool>{true}));
  const std::vector<ShamirShare> repeated = {{2, {21, 7}}};
  EXPECT_THROW(shamir_consistent_with(basis, repeated), ConfigError);
}

// Every t-subset of n shares reconstructs the secret, for a range of (t, n).
TEST(Shamir, AnyTOfNSharesReconstruct) {
  crypto::DeterministicRandom rng(11, "shamir");
  for (std::uint32_t n = 1; n <= 7; ++n) {
    for (std::uint32_t t = 1; t <= n; ++t) {
      crypto::Bytes secret(32);
      rng.fill(secret);
      std::vector<std::uint32_t> xs(n);
      for (std::uint32_t i = 0; i < n; ++i) xs[i] = 3 * i + 5;  // arbitrary distinct points
      const auto shares = shamir_split(secret, t, xs, rng);
      ASSERT_EQ(shares.size(), n);
      // Enumerate all subsets of size t with a bitmask.
      for (std::uint32_t mask = 0; mask < (1u << n); ++mask) {
        if (static_cast<std::uint32_t>(__builtin_popcount(mask)) != t) continue;
        std::vector<ShamirShare> s;
        for (std::uint32_t i = 0; i < n; ++i) {
          if (mask & (1u << i)) s.push_back(shares[i]);
        }
        EXPECT_EQ(plain(shamir_reconstruct(s, t, 32)), secret) << "n=" << n << " t=" << t << " mask=" << mask;
      }
    }
  }
}

TEST(Shamir, LargeThresholdRandomSubsets) {
  crypto::DeterministicRandom rng(12, "shamir-large");
  const std::uint32_t n = 60, t = 41;
  crypto::Bytes secret(32);
  rng.fill(secret);
  std::vector<std::uint32_t> xs(n);
  std::iota(xs.begin(), xs.end(), 1u);
  auto shares = shamir_split(secret, t, xs, rng);
  for (int trial = 0; trial < 20; ++trial) {
    for (std::size_t i = n - 1; i > 0; --i) std::swap(shares[i], shares[rng.uniform_below(i + 1)]);
    EXPECT_EQ(plain(shamir_reconstruct(shares, t, 32)), secret);
  }
}

TEST(Shamir, TooFewOrBadSharesFail) {
  crypto::DeterministicRandom rng(13, "shamir-bad");
  crypto::Bytes secret(32, 0xab);
  const std::uint32_t xs[] = {1, 2, 3, 4, 5};
  auto shares = shamir_split(secret, 3, xs, rng);
  EXPECT_THROW(shamir_reconstruct(std::span(shares).first(2), 3, 32), ConfigError);
  // t-1 shares interpolate to a different value (the secret stays hidden), or to a value
  // that does not even fit the chunk widths.
  try {
    EXPECT_NE(plain(shamir_reconstruct(std::span(shares).first(2), 2, 32)), secret);
  } catch (const ProtocolError&) {
  }
  // A corrupted share either trips the range check or yields a different secret.
  shares[0].y[2] = Gf61::add(shares[0].y[2], 1);
  try {
    EXPECT_NE(plain(shamir_reconstruct(shares, 3, 32)), secret);
  } catch (const ProtocolError&) {
  }
  const std::uint32_t dup[] = {1, 1, 2};
  EXPECT_THROW(shamir_split(secret, 2, dup, rng), ConfigError);
  const std::uint32_t zero[] = {0, 1, 2};
  EXPECT_THROW(shamir_split(secret, 2, zero, rng), ConfigError);
  EXPECT_THROW(shamir_split(secret, 4, std::span(xs).first(3), rng), ConfigError);
  EXPECT_THROW(shamir_split(secret, 0, xs, rng), ConfigError);
}

TEST(Shamir, ShareEncodingIsStrict) {
  ShamirShare s{4, {1, P - 1, 0, 77, 5}};
  const auto bytes = encode_share_elements(s);
  ASSERT_EQ(bytes.size(), 40u);
  const auto back = decode_share_elements(4, bytes, 5);
  EXPECT_EQ(back.y, s.y);
  EXPECT_THROW(decode_share_elements(4, std::span(bytes).first(39), 5), ProtocolError);
  crypto::Bytes over(bytes.begin(), bytes.end());
  for (int i = 0; i < 8; ++i) over[static_cast<std::size_t>(i)] = 0xff;  // element 2^64-1 >= p
  EXPECT_THROW(decode_share_elements(4, over, 5), ProtocolError);
}

}  // namespace
}  // namespace fedlora::secagg
