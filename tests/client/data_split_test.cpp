#include <gtest/gtest.h>

#include "client/data/data_error.h"
#include "client/data/split.h"

namespace fedlora::client::data {
namespace {

TEST(Split, EightyTwentyCountsMatchHandComputedTable) {
  // train = floor(0.8 n) clamped to [1, n-1]; test = n - train = max(1, ceil(0.2 n)).
  struct Row { std::size_t n, train, test; };
  const Row rows[] = {{2, 1, 1},  {3, 2, 1},  {4, 3, 1},  {5, 4, 1},   {6, 4, 2},
                      {7, 5, 2},  {9, 7, 2},  {10, 8, 2}, {11, 8, 3},  {100, 80, 20},
                      {101, 80, 21}, {211, 168, 43}, {229, 183, 46}};
  for (const Row& row : rows) {
    const SplitCounts c = split_counts(row.n, 80);
    EXPECT_EQ(c.train, row.train) << "n=" << row.n;
    EXPECT_EQ(c.test, row.test) << "n=" << row.n;
  }
}

TEST(Split, ClampsSoBothSidesAreNonEmpty) {
  EXPECT_EQ(split_counts(2, 1).train, 1u);    // floor(0.02) = 0 → 1 (LEAF's max(1, ·))
  EXPECT_EQ(split_counts(2, 99).train, 1u);   // floor(1.98) = 1
  EXPECT_EQ(split_counts(10, 99).train, 9u);  // floor(9.9) = 9
  EXPECT_EQ(split_counts(10, 50).train, 5u);
  for (std::size_t n = 2; n < 300; ++n) {
    for (unsigned p : {1u, 20u, 50u, 80u, 90u, 99u}) {
      const SplitCounts c = split_counts(n, p);
      EXPECT_GE(c.train, 1u);
      EXPECT_GE(c.test, 1u);
      EXPECT_EQ(c.train + c.test, n);
    }
  }
}

TEST(Split, NoOverflowForHugeCounts) {
  const std::size_t n = std::size_t{1} << 62;  // n·80 would overflow 64 bits
  EXPECT_EQ(split_counts(n, 50).train, n / 2);
}

TEST(Split, RejectsBadInputs) {
  EXPECT_THROW(split_counts(1, 80), DataError);
  EXPECT_THROW(split_counts(0, 80), DataError);
  EXPECT_THROW(split_counts(10, 0), DataError);
  EXPECT_THROW(split_counts(10, 100), DataError);
  EXPECT_THROW(validate(SplitOptions{1, 80}), DataError);
  EXPECT_THROW(validate(SplitOptions{2, 100}), DataError);
  EXPECT_NO_THROW(validate(SplitOptions{}));
}

}  // namespace
}  // namespace fedlora::client::data
