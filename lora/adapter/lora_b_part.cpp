#include "lora/adapter/lora_b_part.h"

#include <string>

namespace fedlora::lora {

int64_t lora_b_size(const AdapterLayout& layout) {
  int64_t n = 0;
  for (const auto& t : layout.tensors())
    if (t.is_b) n += t.numel();
  return n;
}

std::vector<float> gather_lora_b(const AdapterLayout& layout, std::span<const float> full) {
  layout.check_size(full);
  std::vector<float> out;
  out.reserve(static_cast<size_t>(lora_b_size(layout)));
  for (const auto& t : layout.tensors())
    if (t.is_b) out.insert(out.end(), full.begin() + t.offset, full.begin() + t.offset + t.numel());
  return out;
}

}  // namespace fedlora::lora
