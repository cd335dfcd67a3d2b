#pragma once
// The lora_B part of a flat adapter vector, for FFA-LoRA (Sun et al., ICLR 2024, "Improving
// LoRA in Privacy-preserving Federated Learning"): lora_A stays at its seeded
// initialisation, so an update is zero on every lora_A entry and only the lora_B entries are
// trained, clipped, noised and sent. Averaging the B updates is then exact (the mean of
// B_i·A equals (mean B_i)·A), and an upload is d_B = Σ out·r floats instead of d.
#include <cstdint>
#include <span>
#include <vector>

#include "lora/adapter/adapter_layout.h"

namespace fedlora::lora {

/// d_B: floats in the lora_B tensors of `layout` (Σ over tensors with is_b of rows·cols).
int64_t lora_b_size(const AdapterLayout& layout);

/// The lora_B entries of `full` (float32 [layout.size()]), in layout order: [d_B].
/// @throws AdapterError if full.size() != layout.size().
std::vector<float> gather_lora_b(const AdapterLayout& layout, std::span<const float> full);

/// Writes `b_part` ([d_B]) to the lora_B offsets of `full` ([layout.size()]) and 0 to every
/// lora_A entry. Sizes must match (checked by the callers below).
template <class T>
void scatter_lora_b(const AdapterLayout& layout, std::span<const T> b_part, std::span<T> full) {
  size_t at = 0;
  for (const auto& t : layout.tensors()) {
    for (int64_t i = 0; i < t.numel(); ++i) full[static_cast<size_t>(t.offset + i)] = t.is_b ? b_part[at++] : T(0);
  }
}

/// The inverse of gather_lora_b for an update: float32 [layout.size()] with `b_part` ([d_B])
/// at the lora_B offsets and 0 on every lora_A entry.
/// @throws AdapterError if b_part.size() != lora_b_size(layout).
std::vector<float> expand_lora_b(const AdapterLayout& layout, std::span<const float> b_part);

}  // namespace fedlora::lora
