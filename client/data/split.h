#pragma once
// The per-user, count-based, order-preserving train/test split of LEAF and McMahan et al.

#include <cstddef>

namespace fedlora::client::data {

/// Which users to keep and how to split their examples.
struct SplitOptions {
  /// Users with fewer non-empty examples are dropped (for Shakespeare: `min_speeches`).
  /// Must be >= 2 so that every kept user has at least one train and one test example.
  std::size_t min_examples = 2;
  /// Percentage of each user's examples used for training, 1..99. Integer so the split is
  /// exact (no floating-point rounding at n·0.8 boundaries).
  unsigned train_percent = 80;
};

/// Number of train and test examples of one user.
struct SplitCounts {
  std::size_t train = 0;
  std::size_t test = 0;
};

/// Throws DataError if `options` is out of range (min_examples < 2, train_percent not in
/// 1..99); the message names the field and the allowed range.
void validate(const SplitOptions& options);

/// Splits n >= 2 examples, kept in source order, into the first `train` and last `test`:
///   train = clamp(floor(n · train_percent / 100), 1, n − 1),   test = n − train.
/// This is LEAF's `split_data.py --by_sample` count rule (num_train = max(1, int(frac·n)),
/// 1 when n == 2) and McMahan et al. 2017 §3's rule for Shakespeare (first 80% of a role's
/// lines for training, last 20% for test, rounded up to at least one line); unlike LEAF's
/// random choice of which samples train, the order is kept, as in McMahan et al.
/// Examples with train_percent = 80: n=2 → 1/1, 3 → 2/1, 5 → 4/1, 6 → 4/2, 11 → 8/3.
/// @throws DataError if n < 2 or train_percent is not in 1..99.
SplitCounts split_counts(std::size_t n, unsigned train_percent);

}  // namespace fedlora::client::data
