#pragma once
// Seeded N(0, sd²) float32 test inputs: std::mt19937(seed) through
// std::normal_distribution<float>, so a seed names the same values in every test.
#include <cstddef>
#include <cstdint>
#include <random>
#include <vector>

namespace fedlora::test {

inline std::vector<float> normal_floats(size_t n, uint32_t seed, float sd = 1.0f) {
  std::mt19937 gen(seed);
  std::normal_distribution<float> dist(0.0f, sd);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(gen);
  return v;
}

}  // namespace fedlora::test
