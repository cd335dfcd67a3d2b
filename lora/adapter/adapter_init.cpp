#include "lora/adapter/adapter_init.h"

#include <cmath>

#include "lora/adapter/splitmix64.h"

namespace fedlora::lora {
std::vector<float> init_adapter_vector(const AdapterLayout& layout, uint64_t seed) {
  std::vector<float> v(static_cast<size_t>(layout.size()), 0.0f);
  SplitMix64 gen(seed ^ 0x6A09E667F3BCC909ull);
  for (const auto& t : layout.tensors()) {
    if (t.is_b) continue;
    const double bound = 1.0 / std::sqrt(static_cast<double>(t.cols));
    for (int64_t i = 0; i < t.numel(); ++i) {
      const double u = static_cast<double>(gen() >> 11) * 0x1.0p-53;  // [0, 1)
      v[static_cast<size_t>(t.offset + i)] = static_cast<float>((2.0 * u - 1.0) * bound);
    }
  }
  return v;
}

}  // namespace fedlora::lora
