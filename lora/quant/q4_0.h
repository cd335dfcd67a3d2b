#pragma once
// Q4_0: ggml's 4-bit block format (GGUF spec docs/gguf.md, GGML_TYPE_Q4_0 = 2; ggml
// ggml-common.h `block_q4_0`, ggml-quants.c `quantize_row_q4_0_ref` /
// `dequantize_row_q4_0`). 32 weights share one fp16 scale:
//   m  = the block element of largest |x| (the first one on ties), kept with its sign
//   d  = m / -8                 (so m itself maps to q = -8, the end that has no +8 twin)
//   q  = min(15, trunc(x * (1/d) + 8.5f)) - 8   in [-8, 7]; 1/d taken as 0 when d == 0
//   x̂  = q * fp16(d)
// Byte j of qs holds element j in its low nibble and element j + 16 in its high nibble,
// each stored as q + 8. An all-zero block gets d = 0.0f / -8 = -0.0 (fp16 0x8000) and
// every nibble 8.
#include <cstdint>
#include <span>

#include "lora/quant/quant_error.h"

namespace fedlora::lora {

inline constexpr int64_t kQK4_0 = 32;  ///< weights per Q4_0 block (ggml QK4_0)

/// One Q4_0 block as stored in a GGUF file: 2-byte fp16 scale then 16 bytes of nibbles,
/// no padding (18 bytes, alignment 2).
struct BlockQ4_0 {
  uint16_t d;                ///< fp16 bits of the scale
  uint8_t qs[kQK4_0 / 2];    ///< low nibble: element j, high nibble: element j + 16
};
static_assert(sizeof(BlockQ4_0) == 18, "ggml block_q4_0 is 18 bytes");
static_assert(alignof(BlockQ4_0) == 2);

/// Reference quantizer, bit-identical to ggml `quantize_row_q4_0_ref` for finite input
/// (evaluated without floating-point contraction: x*id and +8.5f round separately).
/// x.size() must equal 32 * y.size(). Throws QuantError on a size mismatch or a non-finite
/// input (undefined in ggml).
void quantize_row_q4_0_ref(std::span<const float> x, std::span<BlockQ4_0> y);

/// Reference dequantizer (ggml `dequantize_row_q4_0`): element = (nibble - 8) * fp16_to_fp32(d).
/// y.size() must equal 32 * x.size(); throws QuantError otherwise.
void dequantize_row_q4_0_ref(std::span<const BlockQ4_0> x, std::span<float> y);

/// Same contracts and bit-identical results as the _ref functions; AVX2 when the running
/// CPU has AVX2 and F16C, NEON on aarch64, the reference loop otherwise.
void quantize_row_q4_0(std::span<const float> x, std::span<BlockQ4_0> y);
void dequantize_row_q4_0(std::span<const BlockQ4_0> x, std::span<float> y);

}  // namespace fedlora::lora
