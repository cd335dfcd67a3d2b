// Online binary-tree aggregation of Gaussian noise for prefix sums (the noise of DP-FTRL).
//
// Sources: T.-H. H. Chan, E. Shi, D. Song, "Private and Continual Release of Statistics",
// ACM TISSEC 2011, and C. Dwork, M. Naor, T. Pitassi, G. Rothblum, "Differential Privacy
// under Continual Observation", STOC 2010 (the binary mechanism); as used by P. Kairouz et
// al., "Practical and Private (Deep) Learning without Sampling or Shuffling", ICML 2021
// (arXiv:2103.00039), Algorithm 1 and §4 (TreeRestart); cf. TF Privacy's
// tree_aggregation.TreeAggregator.
//
// Leaves are rounds 1, 2, …, t of the current tree. A node at level ℓ covers 2^ℓ
// consecutive leaves and carries its own independent N(0, σ²S²) vector. The prefix
// [1, t] is the disjoint union of one node per set bit ℓ of t (the node covering leaves
// (t − (t mod 2^(ℓ+1)), t − (t mod 2^ℓ)]), so the noise of prefix sum t is the sum of
// popcount(t) ≤ ⌊log₂ t⌋ + 1 node vectors. Only those nodes are kept: O(d log t) memory.
// Arriving at leaf t creates exactly one node (the one of level = trailing zeros of t, which
// ends at t) and drops the nodes it covers; so the node ending at leaf s is the s-th
// d-vector drawn from the NoiseSource in this tree order (used by the tests).
// Restart: with restart_every = N > 0, leaf N + 1 starts a new tree (all nodes dropped), as
// in the paper's TreeRestart. The accountant for this mechanism is
// privacy/accounting/tree_aggregation_accountant.h.
// Not implemented: Honaker's variance-reduced ("efficient") tree estimator.
#pragma once

#include <Eigen/Core>
#include <cstdint>
#include <vector>

#include "privacy/noise/noise_source.h"

namespace fedlora::privacy {

class TreeAggregationNoise {
 public:
  /// dimension d ≥ 1 of every noise vector; node_stddev = σ·S ≥ 0, finite (per-coordinate
  /// std of every node); restart_every ≥ 0 leaves per tree (0 = never restart). `noise`:
  /// NoiseSource::from_os_entropy() in production, from_seed in tests and simulation.
  /// Throws InvalidPrivacyParameter on bad arguments.
  TreeAggregationNoise(std::int64_t dimension, double node_stddev, NoiseSource noise,
                       std::int64_t restart_every = 0);

  /// Moves to the next leaf (starting a new tree first if the current one is full) and
  /// returns the noise of the prefix sum of the current tree through that leaf: a
  /// d-vector, valid until the next call.
  const Eigen::VectorXd& next();

  /// Leaves of the current tree consumed so far (t; 0 before the first next()).
  [[nodiscard]] std::int64_t leaf() const { return leaf_; }
  /// Trees started so far (1 after the first next(), +1 per restart).
  [[nodiscard]] std::int64_t trees() const { return trees_; }
  /// True if the last next() started a new tree.
  [[nodiscard]] bool restarted() const { return restarted_; }
  /// Node vectors held now: popcount(leaf()).
  [[nodiscard]] std::size_t stored_nodes() const { return nodes_.size(); }
  [[nodiscard]] std::int64_t dimension() const { return dimension_; }
  [[nodiscard]] double node_stddev() const { return node_stddev_; }
  [[nodiscard]] std::int64_t restart_every() const { return restart_every_; }

 private:
  struct Node {
    int level;
    Eigen::VectorXd noise;
  };
  std::int64_t dimension_;
  double node_stddev_;
  NoiseSource source_;
  std::int64_t restart_every_;
  std::int64_t leaf_ = 0;
  std::int64_t trees_ = 0;
  bool restarted_ = false;
  std::vector<Node> nodes_;  // ascending level: one per set bit of leaf_
  Eigen::VectorXd prefix_noise_;
};

}  // namespace fedlora::privacy
