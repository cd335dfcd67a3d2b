#pragma once
// Neighbour graphs of SecAgg (complete graph, Bonawitz et al. CCS'17) and SecAgg+
// (random k-regular Harary graph, Bell et al. CCS'20): client u shares its keys with,
// and exchanges pairwise masks with, exactly its neighbours.
#include <cstdint>
#include <span>
#include <vector>

#include "secure-agg/crypto/random.h"

namespace fedlora::secagg {

enum class GraphKind { kComplete, kHarary };

/// An undirected graph on client ids 0..n-1 without self loops.
/// Harary H_{k,n}: nodes on a ring, each joined to the k/2 nearest on either side;
/// the labels are then permuted uniformly at random, which the security argument of
/// SecAgg+ needs (the adversary must not choose who neighbours whom).
class NeighbourGraph {
 public:
  /// Complete graph on n >= 2 nodes (degree n-1). Throws ConfigError.
  static NeighbourGraph complete(std::uint32_t n);
  /// Random Harary graph: k even, 2 <= k <= n-2; permutation by Fisher-Yates with
  /// rng.uniform_below. Throws ConfigError on invalid n, k.
  static NeighbourGraph harary(std::uint32_t n, std::uint32_t k, crypto::RandomSource& rng);

  GraphKind kind() const { return kind_; }
  std::uint32_t num_nodes() const { return n_; }
  std::uint32_t degree() const { return k_; }
  /// True iff u != v are adjacent. Ids must be < n (checked; ProtocolError otherwise).
  bool are_neighbours(std::uint32_t u, std::uint32_t v) const;
  /// Neighbours of u in increasing order (excludes u); size = degree().
  std::vector<std::uint32_t> neighbours(std::uint32_t u) const;
  /// Harary only: ring position -> client id (empty for the complete graph).
  std::span<const std::uint32_t> permutation() const { return perm_; }

 private:
  NeighbourGraph() = default;
  void check_id(std::uint32_t u) const;
  GraphKind kind_ = GraphKind::kComplete;
  std::uint32_t n_ = 0;
  std::uint32_t k_ = 0;
  std::vector<std::uint32_t> perm_;      // position -> id
  std::vector<std::uint32_t> position_;  // id -> position
};

}  // namespace fedlora::secagg
