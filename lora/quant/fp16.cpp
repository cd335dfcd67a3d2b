#include "lora/quant/fp16.h"

#include "lora/quant/simd.h"

namespace fedlora::lora {

void fp32_to_fp16_row_ref(const float* src, uint16_t* dst, size_t n) {
  for (size_t i = 0; i < n; ++i) dst[i] = fp32_to_fp16(src[i]);
}

void fp16_to_fp32_row_ref(const uint16_t* src, float* dst, size_t n) {
  for (size_t i = 0; i < n; ++i) dst[i] = fp16_to_fp32(src[i]);
}

void fp32_to_fp16_row(const float* src, uint16_t* dst, size_t n) {
  if (quant_simd_available()) {
    detail::fp32_to_fp16_avx2(src, dst, n);
  } else {
    fp32_to_fp16_row_ref(src, dst, n);
  }
}

void fp16_to_fp32_row(const uint16_t* src, float* dst, size_t n) {
  if (quant_simd_available()) {
    detail::fp16_to_fp32_avx2(src, dst, n);
  } else {
    fp16_to_fp32_row_ref(src, dst, n);
  }
}

}  // namespace fedlora::lora
