#include "lora/quant/q8_0.h"

#include <cmath>
#include <string>

#include "lora/quant/fp16.h"
#include "lora/quant/simd.h"

namespace fedlora::lora {
namespace {

void check_sizes(const char* fn, size_t n_floats, size_t n_blocks) {
  if (n_floats != n_blocks * static_cast<size_t>(kQK8_0)) {
    throw QuantError(std::string(fn) + ": " + std::to_string(n_floats) + " floats do not fill " +
                     std::to_string(n_blocks) + " Q8_0 blocks of 32; pass 32 floats per block");
  }
}

void check_finite(const char* fn, std::span<const float> x) {
  const size_t i = detail::first_non_finite(x.data(), x.size());
  if (i != x.size()) {
    throw QuantError(std::string(fn) + ": input element " + std::to_string(i) +
                     " is not finite; Q8_0 can only encode finite weights");
  }
}

}  // namespace

void detail::quantize_block_q8_0_ref(const float* xb, BlockQ8_0* y) {
  float amax = 0.0f;
  for (int j = 0; j < kQK8_0; ++j) amax = std::fmax(amax, std::fabs(xb[j]));
  const float d = amax / 127.0f;
  const float id = d != 0.0f ? 1.0f / d : 0.0f;
  y->d = fp32_to_fp16(d);
  for (int j = 0; j < kQK8_0; ++j) {
    y->qs[j] = detail::ggml_x86_to_int8(std::round(xb[j] * id));  // |x*id| <= 127 unless id is Inf
  }
}

void quantize_row_q8_0_ref(std::span<const float> x, std::span<BlockQ8_0> y) {
  check_sizes("quantize_row_q8_0_ref", x.size(), y.size());
  check_finite("quantize_row_q8_0_ref", x);
  for (size_t i = 0; i < y.size(); ++i) detail::quantize_block_q8_0_ref(x.data() + i * kQK8_0, &y[i]);
}

void dequantize_row_q8_0_ref(std::span<const BlockQ8_0> x, std::span<float> y) {
  check_sizes("dequantize_row_q8_0_ref", y.size(), x.size());
  for (size_t i = 0; i < x.size(); ++i) {
    const float d = fp16_to_fp32(x[i].d);
    for (int j = 0; j < kQK8_0; ++j) y[i * kQK8_0 + j] = static_cast<float>(x[i].qs[j]) * d;
  }
}

void quantize_row_q8_0(std::span<const float> x, std::span<BlockQ8_0> y) {
  if (!quant_simd_available()) return quantize_row_q8_0_ref(x, y);
  check_sizes("quantize_row_q8_0", x.size(), y.size());
  check_finite("quantize_row_q8_0", x);
  detail::quantize_q8_0_avx2(x.data(), y.data(), y.size());
}

void dequantize_row_q8_0(std::span<const BlockQ8_0> x, std::span<float> y) {
  if (!quant_simd_available()) return dequantize_row_q8_0_ref(x, y);
  check_sizes("dequantize_row_q8_0", y.size(), x.size());
  detail::dequantize_q8_0_avx2(x.data(), y.data(), x.size());
}

}  // namespace fedlora::lora
