// Cohort selection: published SplitMix64 outputs, Lemire's rejection step, sampling without
// replacement, determinism per (seed, round), and chi-square uniformity with a fixed seed.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <numeric>
#include <set>
#include <vector>

#include "coordinator/cohort/sample_cohort.h"
#include "lora/adapter/splitmix64.h"

namespace fedlora::coordinator {
namespace {

using lora::round_stream;
using lora::splitmix64_mix;
using lora::SplitMix64;
using lora::uniform_below;

TEST(SplitMix64, MatchesReferenceOutputsForSeed1234567) {
  // Vigna's splitmix64.c seeded with 1234567 (also Rosetta Code "Pseudo-random
  // numbers/Splitmix64").
  SplitMix64 g(1234567);
  EXPECT_EQ(g.next(), 6457827717110365317ULL);
  EXPECT_EQ(g.next(), 3203168211198807973ULL);
  EXPECT_EQ(g.next(), 9817491932198370423ULL);
  EXPECT_EQ(g.next(), 4593380528125082431ULL);
  EXPECT_EQ(g.next(), 16408922859458223821ULL);
  EXPECT_EQ(SplitMix64(0).next(), 0xE220A8397B1DCDAFULL);
}

// A generator that replays fixed words and counts calls.
struct Replay {
  std::vector<std::uint64_t> words;
  std::size_t calls = 0;
  std::uint64_t operator()() { return words.at(calls++); }
};

TEST(UniformBelow, LemireRejectsTheBiasedLowRegion) {
  // n = 3: 2^64 mod 3 = 1, so a word x with (x·3 mod 2^64) < 1, i.e. x = 0, is rejected.
  // Next word 2^63: x·3 = 1.5·2^64 → high word 1, low word 2^63 ≥ 1: accepted, result 1.
  Replay r{{0, 1ULL << 63}};
  EXPECT_EQ(uniform_below(r, 3), 1u);
  EXPECT_EQ(r.calls, 2u);
  // n = 2^63 + 1: 2^64 mod n = 2^63 − 1. x = 1 gives low word n, ≥ n: no rejection needed
  // (fast path), result ⌊n/2^64⌋ = 0.
  Replay s{{1}};
  EXPECT_EQ(uniform_below(s, (1ULL << 63) + 1), 0u);
  EXPECT_EQ(s.calls, 1u);
  // x = 2^64 − 1 with n = 10: high word of (2^64 − 1)·10 = 9, the top of the range.
  Replay t{{~0ULL}};
  EXPECT_EQ(uniform_below(t, 10), 9u);
}

TEST(UniformBelow, StaysInRange) {
  SplitMix64 g(42);
  for (std::uint64_t n : {1ULL, 2ULL, 3ULL, 7ULL, 1000ULL, (1ULL << 63) + 1, ~0ULL}) {
    for (int i = 0; i < 1000; ++i) ASSERT_LT(uniform_below(g, n), n);
  }
}

TEST(SampleCohort, WithoutReplacementAndInRange) {
  for (std::uint64_t round = 0; round < 200; ++round) {
    const auto c = sample_cohort(50, 20, round, 1);
    ASSERT_EQ(c.size(), 20u);
    std::set<std::uint64_t> unique(c.begin(), c.end());
    ASSERT_EQ(unique.size(), 20u) << "repeated client in round " << round;
    ASSERT_LT(*unique.rbegin(), 50u);
  }
  // K = N: a permutation of the whole population.
  auto all = sample_cohort(10, 10, 3, 1);
  std::sort(all.begin(), all.end());
  std::vector<std::uint64_t> expected(10);
  std::iota(expected.begin(), expected.end(), 0);
  EXPECT_EQ(all, expected);
}

TEST(SampleCohort, DeterministicPerSeedAndRound) {
  const auto a = sample_cohort(1000000, 8, 5, 99);
  EXPECT_EQ(a, sample_cohort(1000000, 8, 5, 99));
  EXPECT_NE(a, sample_cohort(1000000, 8, 6, 99));   // another round
  EXPECT_NE(a, sample_cohort(1000000, 8, 5, 100));  // another seed
  // Large population, small K: O(K) memory path works for populations beyond RAM.
  const auto huge = sample_cohort(1ULL << 62, 5, 0, 3);
  EXPECT_EQ(std::set<std::uint64_t>(huge.begin(), huge.end()).size(), 5u);
}

TEST(SampleCohort, CandidateIdsIndependentOfListingOrder) {
  std::vector<std::uint64_t> ids = {907, 3, 55, 1200, 18, 42, 77, 640, 9, 301};
  const auto a = sample_cohort(ids, 4, 11, 5);
  std::reverse(ids.begin(), ids.end());
  EXPECT_EQ(a, sample_cohort(ids, 4, 11, 5));
  for (std::uint64_t id : a) EXPECT_NE(std::find(ids.begin(), ids.end(), id), ids.end());
  // Candidates {0..N−1} draw exactly what the population overload draws.
  std::vector<std::uint64_t> range(100);
  std::iota(range.begin(), range.end(), 0);
  EXPECT_EQ(sample_cohort(range, 7, 4, 8), sample_cohort(100, 7, 4, 8));
  EXPECT_EQ(sample_cohort(range, 7, 4, 8, {3, 50}), sample_cohort(100, 7, 4, 8, {3, 50}));
}

TEST(SampleCohort, IneligibleClientsAreNeverChosen) {
  const std::unordered_set<std::uint64_t> ineligible = {0, 2, 4, 6, 8, 1000};  // 1000: not in population
  for (std::uint64_t round = 0; round < 100; ++round) {
    for (std::uint64_t id : sample_cohort(10, 5, round, 2, ineligible)) {
      ASSERT_EQ(id % 2, 1u) << "ineligible client " << id << " chosen";
    }
  }
  // Exactly the 5 eligible ones when K equals the eligible count.
  auto c = sample_cohort(10, 5, 0, 2, ineligible);
  std::sort(c.begin(), c.end());
  EXPECT_EQ(c, (std::vector<std::uint64_t>{1, 3, 5, 7, 9}));
}

TEST(SampleCohort, ClearErrors) {
  try {
    sample_cohort(10, 9, 0, 0, {1, 2});
    FAIL() << "K > eligible accepted";
  } catch (const CohortError& e) {
    EXPECT_NE(std::string(e.what()).find("cohort_size 9 exceeds the 8 eligible"), std::string::npos)
        << e.what();
  }
  EXPECT_THROW(sample_cohort(10, 11, 0, 0), CohortError);
  EXPECT_THROW(sample_cohort(10, 0, 0, 0), CohortError);
  EXPECT_THROW(sample_cohort(0, 1, 0, 0), CohortError);
  const std::vector<std::uint64_t> dup = {1, 2, 2, 3};
  EXPECT_THROW(sample_cohort(dup, 2, 0, 0), CohortError);
  const std::vector<std::uint64_t> few = {4, 5};
  EXPECT_THROW(sample_cohort(few, 3, 0, 0), CohortError);
}

// Pearson's χ² statistic for observed counts against a uniform expectation.
double chi_square(const std::vector<double>& counts) {
  const double total = std::accumulate(counts.begin(), counts.end(), 0.0);
  const double expected = total / static_cast<double>(counts.size());
  double chi2 = 0;
  for (double c : counts) chi2 += (c - expected) * (c - expected) / expected;
  return chi2;
}

TEST(SampleCohortUniformity, MarginalInclusionChiSquare) {
  // N = 20, K = 5, 20000 rounds: each id expected 20000·5/20 = 5000 times. Under H0,
  // χ² ~ χ²(19); the 0.999 quantile is 43.82. Also the first drawn id: 1000 expected each.
  constexpr int kN = 20, kK = 5, kRounds = 20000;
  std::vector<double> included(kN, 0.0), first(kN, 0.0);
  for (std::uint64_t round = 0; round < kRounds; ++round) {
    const auto c = sample_cohort(kN, kK, round, 20240601);
    first[c[0]] += 1;
    for (std::uint64_t id : c) included[id] += 1;
  }
  EXPECT_LT(chi_square(included), 43.82);
  EXPECT_LT(chi_square(first), 43.82);
  // Sanity check that the statistic detects bias: the same counts with id 0 over-drawn by 10%.
  std::vector<double> biased = included;
  biased[0] *= 1.10;
  EXPECT_GT(chi_square(biased), 43.82);
}

TEST(SampleCohortUniformity, WholeSubsetChiSquareWithIneligibleIds) {
  // Eligible ids {0, 1, 3, 4, 6, 7} of N = 8 (2 and 5 ineligible), K = 2: C(6, 2) = 15 subsets,
  // each expected 30000/15 = 2000 times. χ²(14) 0.999 quantile is 36.12.
  constexpr int kRounds = 30000;
  const std::unordered_set<std::uint64_t> ineligible = {2, 5};
  std::map<std::pair<std::uint64_t, std::uint64_t>, double> counts;
  for (std::uint64_t round = 0; round < kRounds; ++round) {
    auto c = sample_cohort(8, 2, round, 77, ineligible);
    std::sort(c.begin(), c.end());
    counts[{c[0], c[1]}] += 1;
  }
  ASSERT_EQ(counts.size(), 15u);
  std::vector<double> observed;
  for (const auto& [pair, n] : counts) observed.push_back(n);
  EXPECT_LT(chi_square(observed), 36.12);
}

}  // namespace
}  // namespace fedlora::coordinator
