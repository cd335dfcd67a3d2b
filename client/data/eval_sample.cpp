#include "client/data/eval_sample.h"

#include <algorithm>
#include <limits>
#include <random>
#include <utility>

#include "client/data/data_error.h"

namespace fedlora::client::data {
namespace {

// Uniform integer in [0, bound) for bound >= 1, by rejection: accept r only if it lies
// in the largest multiple of bound that fits in 2^64, so r % bound is unbiased.
std::uint64_t uniform_below(std::mt19937_64& rng, std::uint64_t bound) {
  const std::uint64_t threshold = (std::numeric_limits<std::uint64_t>::max() - bound + 1) % bound;
  while (true) {
    const std::uint64_t r = rng();
    if (r >= threshold) return r % bound;
  }
}

}  // namespace

std::vector<std::size_t> sample_indices(std::size_t n, std::size_t count, std::uint64_t seed) {
  if (count > n)
    throw DataError("sample_indices: asked for " + std::to_string(count) + " of only " + std::to_string(n) + " items");
  std::vector<std::size_t> idx(n);
  for (std::size_t i = 0; i < n; ++i) idx[i] = i;
  std::mt19937_64 rng(seed);
  // Partial Fisher–Yates: positions [0, count) end up a uniform random count-subset.
  for (std::size_t i = 0; i < count; ++i) {
    const std::size_t j = i + static_cast<std::size_t>(uniform_below(rng, n - i));
    std::swap(idx[i], idx[j]);
  }
  idx.resize(count);
  std::sort(idx.begin(), idx.end());
  return idx;
}

std::vector<std::string> sample_eval_users(const Population& population, std::size_t count,
                                           std::uint64_t seed) {
  std::vector<std::size_t> eligible;
  for (std::size_t i = 0; i < population.size(); ++i) {
    if (!population.at(i).test.empty()) eligible.push_back(i);
  }
  if (count > eligible.size()) {
    throw DataError("sample_eval_users: asked for " + std::to_string(count) +
                    " evaluation users but only " + std::to_string(eligible.size()) +
                    " of " + std::to_string(population.size()) +
                    " users have test examples; lower the evaluation user count");
  }
  std::vector<std::string> ids;
  ids.reserve(count);
  // eligible is increasing, so sorted positions give users in population order.
  for (const std::size_t k : sample_indices(eligible.size(), count, seed)) ids.push_back(population.at(eligible[k]).user_id);
  return ids;
}

}  // namespace fedlora::client::data
