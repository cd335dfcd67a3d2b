#pragma once
// Internal to lora/int8: this thread's buffers for the int8 products (quantized activations,
// their scales, int32 products, dequantized weight rows, Bᵀ), shared by int8_linear and
// int8_lora so that a thread holds one set, sized for its largest call. Reused across calls:
// no allocation in the step's loop once warm.
#include <cstdint>
#include <vector>

namespace fedlora::lora::detail {

struct Int8Scratch {
  std::vector<int8_t> q;
  std::vector<float> s, deq, bt;
  std::vector<int32_t> acc;
};

inline Int8Scratch& int8_scratch() {
  thread_local Int8Scratch b;
  return b;
}

/// v's storage with room for n elements (grown, never shrunk).
template <typename T>
T* sized(std::vector<T>& v, int64_t n) {
  if (v.size() < static_cast<size_t>(n)) v.resize(static_cast<size_t>(n));
  return v.data();
}

}  // namespace fedlora::lora::detail
