#pragma once
// Cohort selection: which clients train in a round.

#include <cstddef>
#include <cstdint>
#include <span>
#include <stdexcept>
#include <unordered_set>
#include <vector>

namespace fedlora::coordinator {

/// Thrown when a cohort cannot be drawn (cohort larger than the eligible population,
/// empty cohort, duplicate candidate ids). The message names the numbers involved.
class CohortError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Draws `cohort_size` (K) distinct clients uniformly at random, without replacement, from
/// the population {0, 1, …, population_size − 1} minus `ineligible` (e.g. devices that
/// refused because their privacy budget is spent; ids outside the population are ignored).
///
/// Deterministic for (seed, round): the same arguments give the same cohort on every
/// platform and build. Algorithm: a partial Fisher–Yates shuffle kept sparse in a hash map
/// (O(K) memory, independent of the population size) over round_stream(seed, round), with
/// Lemire's bounded integers; ineligible ids drawn are discarded and the shuffle continues,
/// so the result is the first K eligible entries of a uniform random permutation, i.e. a
/// uniform random K-subset of the eligible ids. Returned in draw order (itself uniformly
/// random), not sorted.
///
/// Throws CohortError if cohort_size == 0 or cohort_size > number of eligible ids.
std::vector<std::uint64_t> sample_cohort(std::uint64_t population_size, std::size_t cohort_size,
                                         std::uint64_t round, std::uint64_t seed,
                                         const std::unordered_set<std::uint64_t>& ineligible = {});

/// Same, drawing from explicit candidate ids (e.g. the devices that checked in).
///
/// The candidates are sorted first, so the cohort does not depend on the order in which a
/// registry listed them; for candidates {0, …, N−1} this returns exactly what the
/// population-size overload returns. Throws CohortError on duplicate candidate ids,
/// cohort_size == 0, or cohort_size > number of eligible candidates.
std::vector<std::uint64_t> sample_cohort(std::span<const std::uint64_t> candidate_ids,
                                         std::size_t cohort_size, std::uint64_t round,
                                         std::uint64_t seed,
                                         const std::unordered_set<std::uint64_t>& ineligible = {});

// Poisson cohorts (user-level DP) are drawn in FedOptStrategy from a CSPRNG, never from
// the seeded stream above: amplification by sampling needs a sample nobody can predict.

}  // namespace fedlora::coordinator
