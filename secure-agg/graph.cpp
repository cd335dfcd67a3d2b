#include "secure-agg/graph.h"

#include <algorithm>
#include <numeric>
#include <string>

#include "secure-agg/errors.h"

namespace fedlora::secagg {

NeighbourGraph NeighbourGraph::complete(std::uint32_t n) {
  if (n < 2) throw ConfigError("complete graph needs n >= 2 clients, got " + std::to_string(n));
  NeighbourGraph g;
  g.kind_ = GraphKind::kComplete;
  g.n_ = n;
  g.k_ = n - 1;
  return g;
}

NeighbourGraph NeighbourGraph::harary(std::uint32_t n, std::uint32_t k, crypto::RandomSource& rng) {
  if (k < 2 || k % 2 != 0 || n < 4 || k > n - 2) {
    throw ConfigError("Harary graph needs an even degree k with 2 <= k <= n-2 (n = " +
                      std::to_string(n) + ", k = " + std::to_string(k) +
                      "); use the complete graph for k = n-1");
  }
  NeighbourGraph g;
  g.kind_ = GraphKind::kHarary;
  g.n_ = n;
  g.k_ = k;
  g.perm_.resize(n);
  std::iota(g.perm_.begin(), g.perm_.end(), 0u);
  for (std::uint32_t i = n - 1; i > 0; --i) {
    const auto j = static_cast<std::uint32_t>(rng.uniform_below(std::uint64_t{i} + 1));
    std::swap(g.perm_[i], g.perm_[j]);
  }
  g.position_.resize(n);
  for (std::uint32_t pos = 0; pos < n; ++pos) g.position_[g.perm_[pos]] = pos;
  return g;
}

void NeighbourGraph::check_id(std::uint32_t u) const {
  if (u >= n_) {
    throw ProtocolError("client id " + std::to_string(u) + " outside [0, " + std::to_string(n_) + ")");
  }
}

bool NeighbourGraph::are_neighbours(std::uint32_t u, std::uint32_t v) const {
  check_id(u);
  check_id(v);
  if (u == v) return false;
  if (kind_ == GraphKind::kComplete) return true;
  const std::uint32_t a = position_[u], b = position_[v];
  const std::uint32_t d = a > b ? a - b : b - a;
  return std::min(d, n_ - d) <= k_ / 2;
}

std::vector<std::uint32_t> NeighbourGraph::neighbours(std::uint32_t u) const {
  check_id(u);
  std::vector<std::uint32_t> out;
  out.reserve(k_);
  if (kind_ == GraphKind::kComplete) {
    for (std::uint32_t v = 0; v < n_; ++v) {
      if (v != u) out.push_back(v);
    }
    return out;
  }
  const std::uint32_t pos = position_[u];
  for (std::uint32_t d = 1; d <= k_ / 2; ++d) {
    out.push_back(perm_[(pos + d) % n_]);
    out.push_back(perm_[(pos + n_ - d) % n_]);
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace fedlora::secagg
