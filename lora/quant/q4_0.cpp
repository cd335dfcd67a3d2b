#include "lora/quant/q4_0.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "lora/quant/fp16.h"
#include "lora/quant/simd.h"

namespace fedlora::lora {
namespace {

void check_sizes(const char* fn, size_t n_floats, size_t n_blocks) {
  if (n_floats != n_blocks * static_cast<size_t>(kQK4_0)) {
    throw QuantError(std::string(fn) + ": " + std::to_string(n_floats) + " floats do not fill " +
                     std::to_string(n_blocks) + " Q4_0 blocks of 32; pass 32 floats per block");
  }
}

void check_finite(const char* fn, std::span<const float> x) {
  const size_t i = detail::first_non_finite(x.data(), x.size());
  if (i != x.size()) {
    throw QuantError(std::string(fn) + ": input element " + std::to_string(i) +
                     " is not finite; Q4_0 can only encode finite weights");
  }
}

// ggml's per-element step: x*id and +8.5f are two separately rounded fp32 operations
// (this library is compiled with -ffp-contract=off), then truncation toward zero. The sum
// is >= 0.5 - tiny because |x*id| <= 8, so truncation is floor; 16 is clamped to 15.
inline uint8_t q4_nibble(float x, float id) {
  const float shifted = x * id + 8.5f;
  return static_cast<uint8_t>(std::min<int>(15, detail::ggml_x86_to_int8(shifted)));
}

}  // namespace

void detail::quantize_block_q4_0_ref(const float* xb, BlockQ4_0* y) {
  float amax = 0.0f, max = 0.0f;
  for (int j = 0; j < kQK4_0; ++j) {
    if (amax < std::fabs(xb[j])) {  // strict: the first element of largest |x| wins
      amax = std::fabs(xb[j]);
      max = xb[j];
    }
  }
  const float d = max / -8.0f;
  const float id = d != 0.0f ? 1.0f / d : 0.0f;
  y->d = fp32_to_fp16(d);
  for (int j = 0; j < kQK4_0 / 2; ++j) {
    const uint8_t lo = q4_nibble(xb[j], id);
    const uint8_t hi = q4_nibble(xb[j + kQK4_0 / 2], id);
    y->qs[j] = static_cast<uint8_t>(lo | (hi << 4));
  }
}

void quantize_row_q4_0_ref(std::span<const float> x, std::span<BlockQ4_0> y) {
  check_sizes("quantize_row_q4_0_ref", x.size(), y.size());
  check_finite("quantize_row_q4_0_ref", x);
  for (size_t i = 0; i < y.size(); ++i) detail::quantize_block_q4_0_ref(x.data() + i * kQK4_0, &y[i]);
}

void dequantize_row_q4_0_ref(std::span<const BlockQ4_0> x, std::span<float> y) {
  check_sizes("dequantize_row_q4_0_ref", y.size(), x.size());
  for (size_t i = 0; i < x.size(); ++i) {
    const float d = fp16_to_fp32(x[i].d);
    float* yb = y.data() + i * kQK4_0;
    for (int j = 0; j < kQK4_0 / 2; ++j) {
      const int lo = (x[i].qs[j] & 0x0F) - 8;
      const int hi = (x[i].qs[j] >> 4) - 8;
      yb[j] = static_cast<float>(lo) * d;
      yb[j + kQK4_0 / 2] = static_cast<float>(hi) * d;
    }
  }
}

void quantize_row_q4_0(std::span<const float> x, std::span<BlockQ4_0> y) {
  if (!quant_simd_available()) return quantize_row_q4_0_ref(x, y);
  check_sizes("quantize_row_q4_0", x.size(), y.size());
  check_finite("quantize_row_q4_0", x);
  detail::quantize_q4_0_avx2(x.data(), y.data(), y.size());
}

void dequantize_row_q4_0(std::span<const BlockQ4_0> x, std::span<float> y) {
  if (!quant_simd_available()) return dequantize_row_q4_0_ref(x, y);
  check_sizes("dequantize_row_q4_0", y.size(), x.size());
  detail::dequantize_q4_0_avx2(x.data(), y.data(), x.size());
}

}  // namespace fedlora::lora
