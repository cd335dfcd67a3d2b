#pragma once
// What a device uploads for an update Δ and weight w: w·Δ as float32 products, as
// client::make_upload computes them (the coordinator sums uploads as they arrive).
#include <Eigen/Core>

#include <vector>

namespace fedlora::test {

inline std::vector<float> weighted(const Eigen::VectorXf& delta, double w) {
  std::vector<float> out(static_cast<size_t>(delta.size()));
  for (Eigen::Index i = 0; i < delta.size(); ++i) out[static_cast<size_t>(i)] = static_cast<float>(delta[i] * w);
  return out;
}

}  // namespace fedlora::test
