#pragma once
// The int8 base products (lora/int8/int8_linear.h) with LibTorch profiler scopes, so that
// `train_bench --profile` attributes their time: re-quantizing the weight from its blocks
// ("fedlora::int8_weight") and the products themselves.
#include <ATen/record_function.h>

#include "lora/int8/int8_linear.h"
#include "lora/int8/int8_lora.h"

namespace fedlora::lora {

// This thread's int8 copy of w, timed as the re-quantization from its blocks.
inline const Int8Weight& int8_weight_profiled(const QuantizedTensor& w) {
  RECORD_USER_SCOPE("fedlora::int8_weight");
  return int8_weight_view(w);
}

/// y [m, out] = x [m, in] · Wᵀ in int8 (int8_linear_forward). Throws std::invalid_argument on
/// a non-finite x.
inline void int8_forward_profiled(const float* x, int64_t m, const QuantizedTensor& w, float* y) {
  const Int8Weight& qw = int8_weight_profiled(w);
  RECORD_USER_SCOPE("fedlora::int8_linear_forward");
  int8_linear_forward(x, m, qw, y);
}

/// dx [m, in] = δ [m, out] · W in int8 (int8_linear_backward). Throws std::invalid_argument
/// on a non-finite δ.
inline void int8_backward_profiled(const float* delta, int64_t m, const QuantizedTensor& w, float* dx) {
  const Int8Weight& qw = int8_weight_profiled(w);
  RECORD_USER_SCOPE("fedlora::int8_linear_backward");
  int8_linear_backward(delta, m, qw, dx);
}

/// y [m, out] = x·Wᵀ (int8) + s·(x·Aᵀ)·Bᵀ, x·Aᵀ into xa [m, r] (int8_lora_forward).
inline void int8_lora_forward_profiled(const float* x, int64_t m, const QuantizedTensor& w, const float* a,
                                       const float* b, int64_t r, float s, float* y, float* xa) {
  const Int8Weight& qw = int8_weight_profiled(w);
  RECORD_USER_SCOPE("fedlora::int8_linear_forward");
  int8_lora_forward(x, m, qw, a, b, r, s, y, xa);
}

/// dx [m, in] = δ·W (int8) + s·(δ·B)·A, δ·B into delta_b [m, r] (int8_lora_backward).
inline void int8_lora_backward_profiled(const float* delta, int64_t m, const QuantizedTensor& w, const float* a,
                                        const float* b, int64_t r, float s, float* dx, float* delta_b) {
  const Int8Weight& qw = int8_weight_profiled(w);
  RECORD_USER_SCOPE("fedlora::int8_linear_backward");
  int8_lora_backward(delta, m, qw, a, b, r, s, dx, delta_b);
}

}  // namespace fedlora::lora
