#pragma once
// Hypergeometric distribution: X = number of marked items in `draws` draws without
// replacement from `total` items of which `marked` are marked. Used by the SecAgg+
// parameter finder (Bell et al. CCS'20; Google fcp graph_parameter_finder) for the
// number of corrupt / surviving neighbours of a client in a random Harary graph.
#include <cstdint>

namespace fedlora::secagg {

class Hypergeometric {
 public:
  /// Requires marked <= total and draws <= total. Throws ConfigError.
  Hypergeometric(std::uint32_t total, std::uint32_t marked, std::uint32_t draws);
  /// P[X = x] (0 outside the support), computed with lgamma.
  double pmf(std::int64_t x) const;
  /// P[X <= x], summed directly over the lower tail (no 1 - p cancellation).
  double cdf(std::int64_t x) const;
  /// P[X > x], summed directly over the upper tail.
  double sf(std::int64_t x) const;
  std::int64_t support_min() const;
  std::int64_t support_max() const;

 private:
  std::uint32_t total_, marked_, draws_;
};

}  // namespace fedlora::secagg
