#pragma once
#include <cstdint>
#include <vector>

#include "lora/adapter/adapter_layout.h"

namespace fedlora::lora {

/// A fresh adapter as a flat vector in `layout` order: every lora_A ~ U(−1/√in, 1/√in)
/// (PEFT's kaiming_uniform_(a=√5), Hu et al. 2021 §4.1 "random Gaussian/uniform A, zero B"),
/// every lora_B = 0, so the adapted model starts equal to the base. Deterministic in `seed`
/// (SplitMix64 stream, independent of platform and standard library).
std::vector<float> init_adapter_vector(const AdapterLayout& layout, uint64_t seed);

}  // namespace fedlora::lora
