#pragma once
// The lora_B part of a flat adapter vector, for FFA-LoRA (Sun et al., ICLR 2024, "Improving
// LoRA in Privacy-preserving Federated Learning"): lora_A stays at its seeded
// initialisation, so an update is zero on every lora_A entry and only the lora_B entries are
// trained, clipped, noised and sent. Averaging the B updates is then exact (the mean of
// B_i·A equals (mean B_i)·A), and an upload is d_B = Σ out·r floats instead of d.
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "lora/adapter/adapter_layout.h"

namespace fedlora::lora {

/// d_B: floats in the lora_B tensors of `layout` (Σ over tensors with is_b of rows·cols).
int64_t lora_b_size(const AdapterLayout& layout);

/// The lora_B entries of `full` (float32 [layout.size()]), in layout order: [d_B].
/// @throws AdapterError if full.size() != layout.size().
std::vector<float> gather_lora_b(const AdapterLayout& layout, std::span<const float> full);

/// The inverse of gather_lora_b for an update: writes `b_part` ([d_B]) to the lora_B offsets
/// of `full` ([layout.size()]) and 0 to every lora_A entry. T is float (device) or double
/// (the coordinator's sums).
/// @throws AdapterError naming the sizes if b_part.size() != d_B or full.size() != d.
template <class T>
void scatter_lora_b(const AdapterLayout& layout, std::span<const T> b_part, std::span<T> full) {
  if (static_cast<int64_t>(b_part.size()) != lora_b_size(layout) || static_cast<int64_t>(full.size()) != layout.size())
    throw AdapterError("lora_B update has " + std::to_string(b_part.size()) + " values for " +
                       std::to_string(full.size()) + " adapter entries; the layout has " +
                       std::to_string(lora_b_size(layout)) + " lora_B of " + std::to_string(layout.size()));
  size_t at = 0;
  for (const auto& t : layout.tensors())
    for (int64_t i = 0; i < t.numel(); ++i) full[static_cast<size_t>(t.offset + i)] = t.is_b ? b_part[at++] : T(0);
}

}  // namespace fedlora::lora
