#include "lora/adapter/adapter_init.h"

#include <cmath>

namespace fedlora::lora {
namespace {
uint64_t splitmix64(uint64_t& s) {
  uint64_t z = (s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}
}  // namespace

std::vector<float> init_adapter_vector(const AdapterLayout& layout, uint64_t seed) {
  std::vector<float> v(static_cast<size_t>(layout.size()), 0.0f);
  uint64_t state = seed ^ 0x6A09E667F3BCC909ull;
  for (const auto& t : layout.tensors()) {
    if (t.is_b) continue;
    const double bound = 1.0 / std::sqrt(static_cast<double>(t.cols));
    for (int64_t i = 0; i < t.numel(); ++i) {
      const double u = static_cast<double>(splitmix64(state) >> 11) * 0x1.0p-53;  // [0, 1)
      v[static_cast<size_t>(t.offset + i)] = static_cast<float>((2.0 * u - 1.0) * bound);
    }
  }
  return v;
}

}  // namespace fedlora::lora
