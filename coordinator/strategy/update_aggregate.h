#pragma once
// What the coordinator receives from a round: the weighted sum of client updates.
//
// With secure aggregation on, the coordinator never sees an individual Δ_i; SecAgg hands it
// only Σ w_i Δ_i and Σ w_i over the surviving clients. The plaintext Aggregator below builds
// the same value from individual updates (simulation without SecAgg, tests, debugging).

#include <Eigen/Core>
#include <cstdint>
#include <limits>
#include <span>
#include <unordered_set>

namespace fedlora::coordinator {

/// Sum of weighted client updates for one round.
///
/// - weighted_sum: Σ_i w_i Δ_i, shape [d] (d = flat adapter length), float64.
/// - total_weight: Σ_i w_i (example counts, or 1 per client), float64, ≥ 0.
/// - num_contributors: number of client updates in the sum (SecAgg survivors).
/// - expected_cohort_size: K, the cohort size the round was configured with; the DP-FedAvg
///   fixed denominator divides by it (McMahan et al. 2018), independent of dropouts.
struct UpdateAggregate {
  Eigen::VectorXd weighted_sum;
  double total_weight = 0.0;
  int num_contributors = 0;
  int expected_cohort_size = 0;
};

/// Checks an aggregate that came from outside (SecAgg, a checkpoint): weighted_sum non-empty
/// and finite, total_weight finite and ≥ 0, num_contributors ≥ 0, expected_cohort_size ≥ 1,
/// total_weight == 0 when num_contributors == 0. Throws InvalidAggregateError naming the
/// first problem.
void validate_aggregate(const UpdateAggregate& aggregate);

/// Streaming sum of plain uploads into an UpdateAggregate: the coordinator's side of a
/// plain (non-SecAgg) round. Each device sends its weighted update w·Δ (float32, as computed
/// on the device, so plain and SecAgg rounds sum the same values) and its weight w.
///
/// Each upload is validated in full before it touches the sum: a rejected upload
/// (InvalidUpdateError) leaves the aggregate exactly as it was. Sums are accumulated in
/// float64, in arrival order.
class Aggregator {
 public:
  /// `dimension` ≥ 1 is the upload length (the flat adapter length d, plus one clip
  /// indicator with adaptive clipping); `expected_cohort_size` K ≥ 1 is recorded in the
  /// aggregate; weights above `max_weight` are rejected. Throws InvalidUpdateError on
  /// dimension < 1, K < 1 or max_weight not > 0.
  Aggregator(Eigen::Index dimension, int expected_cohort_size,
             double max_weight = std::numeric_limits<double>::infinity());

  /// Adds the upload of client `client_id`: `weighted_update` = w·Δ as the device sent it
  /// (added as is) and its weight w (added to total_weight).
  ///
  /// Throws InvalidUpdateError (aggregate unchanged) if: the length != dimension(); any entry
  /// is NaN or ±Inf; weight is NaN, ±Inf, negative or above max_weight; client_id already
  /// contributed; or the new sum would overflow to a non-finite value.
  void add_upload(std::uint64_t client_id, std::span<const float> weighted_update, double weight);

  /// Adds a partial sum of uploads that another Aggregator (same dimension and max_weight)
  /// accepted: a sharded simulator sums each process's devices there and allreduces.
  /// `clients` are the uploads in it; `weighted_sum` [dimension()] float64, `weight` their Σw.
  /// Throws InvalidUpdateError (aggregate unchanged) on a wrong length, a non-finite value,
  /// a negative weight, a client already counted, or an overflow.
  void add_partial_sum(std::span<const std::uint64_t> clients, const Eigen::VectorXd& weighted_sum, double weight);
  /// The aggregate so far (num_contributors == number of accepted updates).
  const UpdateAggregate& aggregate() const noexcept { return aggregate_; }
  Eigen::Index dimension() const noexcept { return aggregate_.weighted_sum.size(); }

 private:
  UpdateAggregate aggregate_;
  double max_weight_;
  Eigen::VectorXd scratch_;  // next sum is built here, then swapped in (no per-add allocation)
  std::unordered_set<std::uint64_t> contributors_;
};

}  // namespace fedlora::coordinator
