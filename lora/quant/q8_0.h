#pragma once
// Q8_0: ggml's 8-bit block format (GGUF spec docs/gguf.md, GGML_TYPE_Q8_0 = 8; ggml
// ggml-common.h `block_q8_0`, ggml-quants.c `quantize_row_q8_0_ref` /
// `dequantize_row_q8_0`). 32 weights share one fp16 scale:
//   d  = amax / 127            (amax = max |x| over the block, computed in fp32)
//   q  = roundf(x * (1/d))     (round half away from zero; 1/d taken as 0 when d == 0)
//   x̂  = q * fp16(d)
// Note the quantizer divides by the fp32 d but the file stores fp16(d): reconstruction uses
// the rounded scale, exactly as in ggml.
#include <cstdint>
#include <span>

#include "lora/quant/quant_error.h"

namespace fedlora::lora {

inline constexpr int64_t kQK8_0 = 32;  ///< weights per Q8_0 block (ggml QK8_0)

/// One Q8_0 block as stored in a GGUF file: 2-byte fp16 scale then 32 signed bytes,
/// little-endian, no padding (34 bytes, alignment 2).
struct BlockQ8_0 {
  uint16_t d;          ///< fp16 bits of the scale
  int8_t qs[kQK8_0];   ///< quants, element j of the block is qs[j] * d
};
static_assert(sizeof(BlockQ8_0) == 34, "ggml block_q8_0 is 34 bytes");
static_assert(alignof(BlockQ8_0) == 2);

/// Reference quantizer, bit-identical to ggml `quantize_row_q8_0_ref` for finite input.
/// x.size() must equal 32 * y.size(). Throws QuantError on a size mismatch or on a
/// non-finite input (where ggml's result is undefined). Scales beyond fp16 range
/// (amax > ~8.3e6) saturate to ±Inf exactly as in ggml.
void quantize_row_q8_0_ref(std::span<const float> x, std::span<BlockQ8_0> y);

/// Reference dequantizer (ggml `dequantize_row_q8_0`): y[32*i + j] = qs[j] * fp16_to_fp32(d).
/// y.size() must equal 32 * x.size(); throws QuantError otherwise.
void dequantize_row_q8_0_ref(std::span<const BlockQ8_0> x, std::span<float> y);

/// Same contracts and bit-identical results as the _ref functions; AVX2 when the running
/// CPU has AVX2 and F16C, NEON on aarch64, the reference loop otherwise.
void quantize_row_q8_0(std::span<const float> x, std::span<BlockQ8_0> y);
void dequantize_row_q8_0(std::span<const BlockQ8_0> x, std::span<float> y);

}  // namespace fedlora::lora
