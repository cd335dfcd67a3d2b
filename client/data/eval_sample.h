#pragma once
// A fixed, seeded sample of users for federated evaluation.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "client/data/population.h"

namespace fedlora::client::data {

/// `count` distinct indices of [0, n), uniformly without replacement, sorted: the draw
/// sample_eval_users makes (std::mt19937_64, unbiased bounded draw, partial Fisher–Yates).
/// @throws DataError if count > n.
std::vector<std::size_t> sample_indices(std::size_t n, std::size_t count, std::uint64_t seed);

/// Draws `count` distinct users uniformly at random without replacement from the users of
/// `population` that have at least one test example, and returns their ids in population
/// order. The same (population, count, seed) gives the same sample on every platform: the
/// generator is std::mt19937_64 (its output sequence is fixed by the C++ standard) with our
/// own unbiased bounded draw and partial Fisher–Yates shuffle, not the implementation-defined
/// std::uniform_int_distribution / std::shuffle. Evaluating a fixed user sample on each
/// user's held-out (test) examples follows LEAF and McMahan et al. 2017 §3.
/// @throws DataError if count exceeds the number of users with test examples.
std::vector<std::string> sample_eval_users(const Population& population, std::size_t count,
                                           std::uint64_t seed);

}  // namespace fedlora::client::data
