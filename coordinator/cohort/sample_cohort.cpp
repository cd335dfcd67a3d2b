#include "coordinator/cohort/sample_cohort.h"

#include <algorithm>
#include <string>
#include <unordered_map>

#include "lora/adapter/splitmix64.h"

namespace fedlora::coordinator {

using lora::round_stream;
using lora::SplitMix64;
using lora::uniform_below;
namespace {

// Sparse partial Fisher–Yates over positions [0, n): position p holds `slots[p]` if present,
// else p itself. Calls `take(index)` for drawn indices in order until it has returned true
// `k` times. The caller guarantees that at least k indices are accepted.
template <class Take>
void sparse_fisher_yates(std::uint64_t n, std::size_t k, SplitMix64 stream, Take take) {
  std::unordered_map<std::uint64_t, std::uint64_t> slots;
  auto at = [&](std::uint64_t p) {
    auto it = slots.find(p);
    return it == slots.end() ? p : it->second;
  };
  std::size_t accepted = 0;
  for (std::uint64_t i = 0; i < n && accepted < k; ++i) {
    const std::uint64_t j = i + uniform_below(stream, n - i);  // uniform in [i, n)
    const std::uint64_t drawn = at(j);
    slots[j] = at(i);  // position i is consumed; the value it held moves to j
    slots.erase(i);    // positions < i+1 are never read again
    if (take(drawn)) ++accepted;
  }
}

void check_cohort_size(std::size_t cohort_size, std::uint64_t eligible, std::uint64_t total,
                       const char* what) {
  if (cohort_size == 0) {
    throw CohortError("sample_cohort: cohort_size is 0; a round needs at least one client");
  }
  if (cohort_size > eligible) {
    throw CohortError("sample_cohort: cohort_size " + std::to_string(cohort_size) +
                      " exceeds the " + std::to_string(eligible) + " eligible clients (" +
                      std::to_string(total) + " " + what + ", " +
                      std::to_string(total - eligible) +
                      " ineligible); lower the cohort size or wait for more clients");
  }
}

}  // namespace

std::vector<std::uint64_t> sample_cohort(std::uint64_t population_size, std::size_t cohort_size,
                                         std::uint64_t round, std::uint64_t seed,
                                         const std::unordered_set<std::uint64_t>& ineligible) {
  std::uint64_t excluded = 0;
  for (std::uint64_t id : ineligible) excluded += id < population_size ? 1 : 0;
  check_cohort_size(cohort_size, population_size - excluded, population_size,
                    "in the population");

  std::vector<std::uint64_t> cohort;
  cohort.reserve(cohort_size);
  sparse_fisher_yates(population_size, cohort_size, round_stream(seed, round),
                      [&](std::uint64_t id) {
                        if (ineligible.contains(id)) return false;
                        cohort.push_back(id);
                        return true;
                      });
  return cohort;
}

std::vector<std::uint64_t> sample_cohort(std::span<const std::uint64_t> candidate_ids,
                                         std::size_t cohort_size, std::uint64_t round,
                                         std::uint64_t seed,
                                         const std::unordered_set<std::uint64_t>& ineligible) {
  std::vector<std::uint64_t> sorted(candidate_ids.begin(), candidate_ids.end());
  std::sort(sorted.begin(), sorted.end());
  if (auto dup = std::adjacent_find(sorted.begin(), sorted.end()); dup != sorted.end()) {
    throw CohortError("sample_cohort: candidate id " + std::to_string(*dup) +
                      " appears more than once; deduplicate the candidate list");
  }
  std::uint64_t excluded = 0;
  for (std::uint64_t id : sorted) excluded += ineligible.contains(id) ? 1 : 0;
  check_cohort_size(cohort_size, sorted.size() - excluded, sorted.size(), "candidates");

  std::vector<std::uint64_t> cohort;
  cohort.reserve(cohort_size);
  sparse_fisher_yates(sorted.size(), cohort_size, round_stream(seed, round),
                      [&](std::uint64_t index) {
                        const std::uint64_t id = sorted[index];
                        if (ineligible.contains(id)) return false;
                        cohort.push_back(id);
                        return true;
                      });
  return cohort;
}

}  // namespace fedlora::coordinator
