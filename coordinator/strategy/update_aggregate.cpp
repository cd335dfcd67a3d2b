#include "coordinator/strategy/update_aggregate.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <utility>

#include "coordinator/strategy/errors.h"

namespace fedlora::coordinator {
namespace {

// Index of the first non-finite entry, or -1.
template <class Vec>
Eigen::Index first_non_finite(const Vec& v) {
  for (Eigen::Index i = 0; i < v.size(); ++i) {
    if (!std::isfinite(v[i])) return i;
  }
  return -1;
}

}  // namespace

void validate_aggregate(const UpdateAggregate& a) {
  if (a.weighted_sum.size() == 0) {
    throw InvalidAggregateError("UpdateAggregate: weighted_sum is empty; expected the flat "
                                "adapter length");
  }
  if (Eigen::Index i = first_non_finite(a.weighted_sum); i >= 0) {
    throw InvalidAggregateError("UpdateAggregate: weighted_sum[" + std::to_string(i) +
                                "] is not finite; the round's sum is corrupt, discard it");
  }
  if (!std::isfinite(a.total_weight) || a.total_weight < 0) {
    throw InvalidAggregateError("UpdateAggregate: total_weight " + std::to_string(a.total_weight) +
                                " is not a finite value >= 0");
  }
  if (a.num_contributors < 0) {
    throw InvalidAggregateError("UpdateAggregate: num_contributors " +
                                std::to_string(a.num_contributors) + " is negative");
  }
  if (a.expected_cohort_size < 1) {
    throw InvalidAggregateError("UpdateAggregate: expected_cohort_size " +
                                std::to_string(a.expected_cohort_size) +
                                " must be >= 1 (the configured cohort size K)");
  }
  if (a.num_contributors == 0 && a.total_weight != 0) {
    throw InvalidAggregateError("UpdateAggregate: total_weight " + std::to_string(a.total_weight) +
                                " with no contributors; the aggregate is inconsistent");
  }
}

Aggregator::Aggregator(Eigen::Index dimension, int expected_cohort_size, double max_weight)
    : max_weight_(max_weight) {
  if (!(max_weight > 0)) {
    throw InvalidUpdateError("Aggregator: max_weight " + std::to_string(max_weight) + " must be > 0");
  }
  if (dimension < 1) {
    throw InvalidUpdateError("Aggregator: dimension " + std::to_string(dimension) +
                             " must be >= 1 (the flat adapter length)");
  }
  if (expected_cohort_size < 1) {
    throw InvalidUpdateError("Aggregator: expected_cohort_size " +
                             std::to_string(expected_cohort_size) + " must be >= 1");
  }
  aggregate_.weighted_sum = Eigen::VectorXd::Zero(dimension);
  aggregate_.expected_cohort_size = expected_cohort_size;
  scratch_.resize(dimension);
}

void Aggregator::add_upload(std::uint64_t client_id, std::span<const float> weighted_update, double weight) {
  const Eigen::Map<const Eigen::VectorXf> delta(weighted_update.data(), static_cast<Eigen::Index>(weighted_update.size()));
  const std::string who = "upload from client " + std::to_string(client_id);
  if (delta.size() != dimension()) {
    throw InvalidUpdateError(who + " has " + std::to_string(delta.size()) +
                             " entries, expected " + std::to_string(dimension()) +
                             " (flat adapter length); rejected, check the adapter layout");
  }
  if (Eigen::Index i = first_non_finite(delta); i >= 0) {
    throw InvalidUpdateError(who + " has a non-finite entry (NaN or Inf) at index " +
                             std::to_string(i) + "; rejected");
  }
  if (!std::isfinite(weight) || weight < 0 || weight > max_weight_) {
    throw InvalidUpdateError(who + " has weight " + std::to_string(weight) + "; weights must be in [0, " +
                             std::to_string(max_weight_) + "]; rejected");
  }
  if (contributors_.contains(client_id)) {
    throw InvalidUpdateError(who + " is a duplicate; each client contributes once per round");
  }
  // Build the candidate sum aside: finite values can still overflow the sum.
  scratch_ = aggregate_.weighted_sum + delta.cast<double>();
  const double new_total = aggregate_.total_weight + weight;
  if (first_non_finite(scratch_) >= 0 || !std::isfinite(new_total)) {
    throw InvalidUpdateError(who + " would overflow the sum to a non-finite value (weight " +
                             std::to_string(weight) + "); rejected");
  }
  contributors_.insert(client_id);
  std::swap(aggregate_.weighted_sum, scratch_);
  aggregate_.total_weight = new_total;
  ++aggregate_.num_contributors;
}

void Aggregator::add_partial_sum(std::span<const std::uint64_t> clients, const Eigen::VectorXd& weighted_sum,
                                 double weight) {
  const std::string who = "partial sum of " + std::to_string(clients.size()) + " uploads";
  if (weighted_sum.size() != dimension())
    throw InvalidUpdateError(who + " has " + std::to_string(weighted_sum.size()) + " entries, expected " +
                             std::to_string(dimension()));
  if (Eigen::Index i = first_non_finite(weighted_sum); i >= 0)
    throw InvalidUpdateError(who + " has a non-finite entry at index " + std::to_string(i));
  if (!std::isfinite(weight) || weight < 0)
    throw InvalidUpdateError(who + " has weight " + std::to_string(weight));
  for (std::size_t i = 0; i < clients.size(); ++i) {
    if (contributors_.contains(clients[i]) || std::find(clients.begin(), clients.begin() + i, clients[i]) != clients.begin() + i)
      throw InvalidUpdateError(who + " counts client " + std::to_string(clients[i]) + " twice");
  }
  scratch_ = aggregate_.weighted_sum + weighted_sum;
  const double new_total = aggregate_.total_weight + weight;
  if (first_non_finite(scratch_) >= 0 || !std::isfinite(new_total))
    throw InvalidUpdateError(who + " would overflow the sum to a non-finite value");
  contributors_.insert(clients.begin(), clients.end());
  std::swap(aggregate_.weighted_sum, scratch_);
  aggregate_.total_weight = new_total;
  aggregate_.num_contributors += static_cast<int>(clients.size());
}

}  // namespace fedlora::coordinator
