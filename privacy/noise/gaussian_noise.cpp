#include "privacy/noise/gaussian_noise.h"

#include "privacy/common/finite.h"

namespace fedlora::privacy {

void add_gaussian_noise(std::span<float> vec, double stddev, NoiseSource& source) {
  require_finite(vec, "add_gaussian_noise");
  source.add_gaussian(vec, stddev);
}

}  // namespace fedlora::privacy
