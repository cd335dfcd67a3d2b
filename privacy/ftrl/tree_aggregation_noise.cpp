#include "privacy/ftrl/tree_aggregation_noise.h"

#include <bit>
#include <cmath>
#include <span>
#include <string>
#include <utility>

#include "privacy/errors.h"

namespace fedlora::privacy {

TreeAggregationNoise::TreeAggregationNoise(std::int64_t dimension, double node_stddev,
                                           NoiseSource noise, std::int64_t restart_every)
    : dimension_(dimension),
      node_stddev_(node_stddev),
      source_(std::move(noise)),
      restart_every_(restart_every) {
  if (dimension < 1) {
    throw InvalidPrivacyParameter("TreeAggregationNoise: dimension " + std::to_string(dimension) +
                                  " must be >= 1");
  }
  if (!(node_stddev >= 0.0) || std::isinf(node_stddev)) {
    throw InvalidPrivacyParameter("TreeAggregationNoise: node noise stddev " +
                                  std::to_string(node_stddev) + " must be finite and >= 0");
  }
  if (restart_every < 0) {
    throw InvalidPrivacyParameter("TreeAggregationNoise: restart_every " +
                                  std::to_string(restart_every) + " must be >= 0 (0 = never)");
  }
  prefix_noise_ = Eigen::VectorXd::Zero(dimension);
}

const Eigen::VectorXd& TreeAggregationNoise::next() {
  restarted_ = leaf_ == 0 || (restart_every_ > 0 && leaf_ == restart_every_);
  if (restarted_) {
    nodes_.clear();
    leaf_ = 0;
    ++trees_;
  }
  ++leaf_;
  // The new node ends at leaf t and has level = trailing zeros of t; it covers the nodes
  // of levels below it, which are exactly the lowest ones held.
  const int level = std::countr_zero(static_cast<std::uint64_t>(leaf_));
  std::size_t covered = 0;
  while (covered < nodes_.size() && nodes_[covered].level < level) ++covered;
  nodes_.erase(nodes_.begin(), nodes_.begin() + static_cast<std::ptrdiff_t>(covered));
  Node node{level, Eigen::VectorXd(dimension_)};
  source_.fill_gaussian(std::span<double>(node.noise.data(), static_cast<std::size_t>(dimension_)),
                        node_stddev_);
  nodes_.insert(nodes_.begin(), std::move(node));
  prefix_noise_.setZero();
  for (const Node& n : nodes_) prefix_noise_ += n.noise;
  return prefix_noise_;
}

}  // namespace fedlora::privacy
