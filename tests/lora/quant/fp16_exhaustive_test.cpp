// Slow (label `slow`): every one of the 2^32 float bit patterns through the scalar
// converter, compared with the fast row converter, which on x86 with F16C is Intel's
// vcvtps2ph (an independent implementation) plus the NaN patch; and with the definition-
// based reference on a stride through the whole space.
#include <gtest/gtest.h>

#include <bit>
#include <vector>

#include "lora/quant/fp16.h"
#include "lora/quant/simd.h"
#include "tests/lora/quant/reference_fp16.h"

namespace fedlora::lora {
namespace {

TEST(Fp16Exhaustive, AllFloatsScalarEqualsFastRow) {
  if (!quant_simd_available()) GTEST_SKIP() << "no F16C here: the fast row is the scalar loop";
  constexpr size_t kChunk = 1 << 16;
  std::vector<float> src(kChunk);
  std::vector<uint16_t> fast(kChunk);
  for (uint64_t base = 0; base < (1ull << 32); base += kChunk) {
    for (size_t i = 0; i < kChunk; ++i) src[i] = std::bit_cast<float>(static_cast<uint32_t>(base + i));
    fp32_to_fp16_row(src.data(), fast.data(), kChunk);
    for (size_t i = 0; i < kChunk; ++i) {
      if (fast[i] != fp32_to_fp16(src[i])) {
        FAIL() << "float bits 0x" << std::hex << (base + i) << ": fast 0x" << fast[i] << " scalar 0x"
               << fp32_to_fp16(src[i]);
      }
    }
  }
}

TEST(Fp16Exhaustive, StrideMatchesDefinition) {
  for (uint64_t b = 0; b < (1ull << 32); b += 997) {
    const float f = std::bit_cast<float>(static_cast<uint32_t>(b));
    ASSERT_EQ(fp32_to_fp16(f), testref::encode_half(f)) << "float bits 0x" << std::hex << b;
  }
}

}  // namespace
}  // namespace fedlora::lora
