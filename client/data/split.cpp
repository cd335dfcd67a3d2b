#include "client/data/split.h"

#include <algorithm>
#include <string>

#include "client/data/data_error.h"

namespace fedlora::client::data {
namespace {

void check_percent(unsigned train_percent) {
  if (train_percent < 1 || train_percent > 99) {
    throw DataError("split option train_percent = " + std::to_string(train_percent) +
                    " is out of range; use 1..99 (80 is the LEAF/McMahan et al. split)");
  }
}

}  // namespace

void validate(const SplitOptions& options) {
  if (options.min_examples < 2) {
    throw DataError("split option min_examples = " + std::to_string(options.min_examples) +
                    " is too small; use >= 2 so every user has a train and a test example");
  }
  check_percent(options.train_percent);
}

SplitCounts split_counts(std::size_t n, unsigned train_percent) {
  check_percent(train_percent);
  if (n < 2) {
    throw DataError("cannot split " + std::to_string(n) +
                    " example(s) into train and test; a user needs at least 2");
  }
  // floor(n·p/100) without overflow: n = 100q + r.
  const std::size_t floor_train = (n / 100) * train_percent + (n % 100) * train_percent / 100;
  const std::size_t train = std::clamp<std::size_t>(floor_train, 1, n - 1);
  return SplitCounts{train, n - train};
}

}  // namespace fedlora::client::data
