// Fast kernels (AVX2/F16C on x86, NEON on aarch64) against the scalar references on the
// inputs the per-format tests sample only sparsely: every fp16 scale, every run length from
// one block/element up at misaligned addresses, and Q4_0 elements whose nibble changes if
// x*id + 8.5f were fused into one FMA. Also pins which kernel path each architecture uses.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "lora/quant/fp16.h"
#include "lora/quant/q4_0.h"
#include "lora/quant/q8_0.h"
#include "lora/quant/quantized_tensor.h"
#include "lora/quant/simd.h"
#include "tests/lora/quant/random_blocks.h"

namespace fedlora::lora {
namespace {

// memcmp for possibly empty ranges: an empty std::vector's data() may be null, and passing
// null to memcmp is undefined even for zero bytes (UBSan reports it).
int bytes_differ(const void* a, const void* b, size_t n) { return n == 0 ? 0 : std::memcmp(a, b, n); }

TEST(QuantKernels, PathMatchesArchitecture) {
  const std::string path(quant_kernel_path());
#if defined(__aarch64__)
  EXPECT_EQ(path, "neon");
  EXPECT_TRUE(quant_simd_available());
#elif defined(__x86_64__) || defined(__i386__)
  EXPECT_EQ(path, quant_simd_available() ? "avx2+f16c" : "scalar");
#else
  EXPECT_EQ(path, "scalar");
  EXPECT_FALSE(quant_simd_available());
#endif
}

// 65536 blocks: block i has scale bits i (zeros, subnormals, normals, ±Inf, NaNs with
// payloads) and quants that walk through every byte value.
TEST(QuantKernels, DequantizeEveryFp16Scale) {
  SCOPED_TRACE(std::string("kernel path: ") + std::string(quant_kernel_path()));
  constexpr size_t kBlocks = 65536;
  std::vector<BlockQ8_0> q8(kBlocks);
  std::vector<BlockQ4_0> q4(kBlocks);
  for (size_t i = 0; i < kBlocks; ++i) {
    q8[i].d = q4[i].d = static_cast<uint16_t>(i);
    for (int j = 0; j < 32; ++j) q8[i].qs[j] = static_cast<int8_t>(static_cast<uint8_t>(i * 7 + j * 8));
    for (int j = 0; j < 16; ++j) q4[i].qs[j] = static_cast<uint8_t>(i * 3 + j * 17);
  }
  std::vector<float> fast(kBlocks * 32), ref(kBlocks * 32);
  dequantize_row_q8_0(q8, fast);
  dequantize_row_q8_0_ref(q8, ref);
  for (size_t i = 0; i < fast.size(); ++i) {
    ASSERT_EQ(std::bit_cast<uint32_t>(fast[i]), std::bit_cast<uint32_t>(ref[i])) << "Q8_0 element " << i;
  }
  dequantize_row_q4_0(q4, fast);
  dequantize_row_q4_0_ref(q4, ref);
  for (size_t i = 0; i < fast.size(); ++i) {
    ASSERT_EQ(std::bit_cast<uint32_t>(fast[i]), std::bit_cast<uint32_t>(ref[i])) << "Q4_0 element " << i;
  }
}

// Every block count 0..9 (quantize and dequantize) and every fp16 row length 0..40, with
// the float side one element off a 16-byte boundary, and nothing written past the end.
TEST(QuantKernels, ShortRunsAtMisalignedAddresses) {
  SCOPED_TRACE(std::string("kernel path: ") + std::string(quant_kernel_path()));
  const auto x = testref::random_blocks(10, testref::all_kinds(), 41);
  std::vector<float> xs(x.size() + 1);
  std::copy(x.begin(), x.end(), xs.begin() + 1);
  const std::span<const float> src(xs.data() + 1, x.size());
  const float canary = -1234.5f;
  for (size_t nb = 0; nb <= 9; ++nb) {
    const size_t n = nb * 32;
    std::vector<BlockQ8_0> a8(nb + 1), r8(nb + 1);
    std::vector<BlockQ4_0> a4(nb + 1), r4(nb + 1);
    std::memset(a8.data(), 0xA5, a8.size() * sizeof(BlockQ8_0));
    std::memset(a4.data(), 0xA5, a4.size() * sizeof(BlockQ4_0));
    quantize_row_q8_0(src.first(n), std::span(a8).first(nb));
    quantize_row_q8_0_ref(src.first(n), std::span(r8).first(nb));
    quantize_row_q4_0(src.first(n), std::span(a4).first(nb));
    quantize_row_q4_0_ref(src.first(n), std::span(r4).first(nb));
    ASSERT_EQ(bytes_differ(a8.data(), r8.data(), nb * sizeof(BlockQ8_0)), 0) << nb << " Q8_0 blocks";
    ASSERT_EQ(bytes_differ(a4.data(), r4.data(), nb * sizeof(BlockQ4_0)), 0) << nb << " Q4_0 blocks";
    ASSERT_EQ(a8[nb].d, 0xA5A5) << "Q8_0 quantizer wrote past block " << nb;
    ASSERT_EQ(a4[nb].d, 0xA5A5) << "Q4_0 quantizer wrote past block " << nb;

    std::vector<float> yf(n + 2, canary), yr(n);
    dequantize_row_q8_0(std::span<const BlockQ8_0>(r8).first(nb), std::span(yf).subspan(1, n));
    dequantize_row_q8_0_ref(std::span<const BlockQ8_0>(r8).first(nb), yr);
    ASSERT_EQ(bytes_differ(yf.data() + 1, yr.data(), n * sizeof(float)), 0) << nb << " Q8_0 blocks";
    ASSERT_EQ(yf[0], canary);
    ASSERT_EQ(yf[n + 1], canary);
    dequantize_row_q4_0(std::span<const BlockQ4_0>(r4).first(nb), std::span(yf).subspan(1, n));
    dequantize_row_q4_0_ref(std::span<const BlockQ4_0>(r4).first(nb), yr);
    ASSERT_EQ(bytes_differ(yf.data() + 1, yr.data(), n * sizeof(float)), 0) << nb << " Q4_0 blocks";
    ASSERT_EQ(yf[0], canary);
    ASSERT_EQ(yf[n + 1], canary);
  }
  // fp16 rows: lengths across the 8-lane body and every tail length, odd start offsets.
  std::mt19937 rng(43);
  std::vector<float> f(48);
  for (float& v : f) v = std::bit_cast<float>(static_cast<uint32_t>(rng()));  // NaNs, Infs, subnormals
  std::vector<uint16_t> h(48);
  for (auto& v : h) v = static_cast<uint16_t>(rng());
  for (size_t len = 0; len <= 40; ++len) {
    for (size_t off : {size_t{1}, size_t{3}}) {
      std::vector<uint16_t> hf(len + 2, 0xBEEF), hr(len);
      fp32_to_fp16_row(f.data() + off, hf.data() + 1, len);
      fp32_to_fp16_row_ref(f.data() + off, hr.data(), len);
      ASSERT_EQ(bytes_differ(hf.data() + 1, hr.data(), len * sizeof(uint16_t)), 0) << "encode, length " << len;
      ASSERT_EQ(hf[0], 0xBEEF);
      ASSERT_EQ(hf[len + 1], 0xBEEF);
      std::vector<float> ff(len + 2, canary), fr(len);
      fp16_to_fp32_row(h.data() + off, ff.data() + 1, len);
      fp16_to_fp32_row_ref(h.data() + off, fr.data(), len);
      ASSERT_EQ(bytes_differ(ff.data() + 1, fr.data(), len * sizeof(float)), 0) << "decode, length " << len;
      ASSERT_EQ(ff[0], canary);
      ASSERT_EQ(ff[len + 1], canary);
    }
  }
}

// Q4_0 blocks built so that many elements sit where fl(fl(x*id) + 8.5f) and the fused
// fma(x, id, 8.5f) truncate to different nibbles: the reference rounds twice (ggml,
// -ffp-contract=off), so a kernel that fuses the two operations fails here. Each block has
// the max first (a random magnitude and sign), then elements found next to x = (n - 8.5)/id.
TEST(QuantKernels, Q4_0MultiplyAddNeverFused) {
  SCOPED_TRACE(std::string("kernel path: ") + std::string(quant_kernel_path()));
  std::mt19937 rng(47);
  std::uniform_real_distribution<float> mant(1.0f, 2.0f);
  std::uniform_int_distribution<int> exp2(-20, 20), nib(1, 15);
  std::vector<float> x;
  size_t sensitive = 0;
  while (x.size() < 400 * 32) {
    const float m = std::ldexp(mant(rng), exp2(rng)) * ((rng() & 1) ? 1.0f : -1.0f);
    const float d = m / -8.0f;
    const float id = 1.0f / d;
    std::vector<float> block = {m};
    for (int tries = 0; tries < 4000 && block.size() < 32; ++tries) {
      float c = (static_cast<float>(nib(rng)) - 8.5f) / id;
      const int step = static_cast<int>(rng() % 64) - 32;
      c = std::bit_cast<float>(std::bit_cast<uint32_t>(c) + static_cast<uint32_t>(step));
      if (!(std::fabs(c) < std::fabs(m))) continue;
      volatile float prod = c * id;  // rounded on its own, whatever the contraction setting
      const float separate = prod + 8.5f;
      const float fused = std::fma(c, id, 8.5f);
      if (static_cast<int>(separate) != static_cast<int>(fused)) {
        block.push_back(c);
        ++sensitive;
      }
    }
    while (block.size() < 32) block.push_back(0.0f);
    x.insert(x.end(), block.begin(), block.end());
  }
  ASSERT_GT(sensitive, 1000u) << "generator found too few FMA-sensitive elements";
  const size_t nb = x.size() / 32;
  std::vector<BlockQ4_0> ref(nb), fast(nb);
  quantize_row_q4_0_ref(x, ref);
  quantize_row_q4_0(x, fast);
  for (size_t b = 0; b < nb; ++b) {
    ASSERT_EQ(bytes_differ(&ref[b], &fast[b], sizeof(BlockQ4_0)), 0) << "block " << b;
  }
  // The same data through QuantizedTensor (rows of 4 blocks, the fast path).
  const auto t = QuantizedTensor::quantize(x.data(), static_cast<int64_t>(nb / 4), 128, GgmlType::Q4_0);
  ASSERT_EQ(bytes_differ(t.bytes().data(), ref.data(), nb * sizeof(BlockQ4_0)), 0);
}

// Every [begin, end) row range of small tensors with odd row counts and, for F16, odd
// column counts (so the 8-lane conversion ends in a tail inside a row).
TEST(QuantKernels, EveryRowRangeOfOddShapes) {
  SCOPED_TRACE(std::string("kernel path: ") + std::string(quant_kernel_path()));
  const auto w = testref::random_blocks(7 * 3, testref::all_kinds(), 53);
  struct Shape {
    GgmlType type;
    int64_t rows, cols;
  };
  for (const Shape s : {Shape{GgmlType::F16, 7, 13}, Shape{GgmlType::F16, 5, 96}, Shape{GgmlType::Q8_0, 7, 96},
                        Shape{GgmlType::Q4_0, 7, 96}, Shape{GgmlType::Q8_0, 3, 32}, Shape{GgmlType::Q4_0, 1, 32}}) {
    const auto t = QuantizedTensor::quantize(w.data(), s.rows, s.cols, s.type);
    std::vector<float> ref(static_cast<size_t>(s.rows * s.cols));
    for (int64_t r = 0; r < s.rows; ++r) t.dequantize_row_ref(r, ref.data() + r * s.cols);
    for (int64_t b = 0; b <= s.rows; ++b) {
      for (int64_t e = b; e <= s.rows; ++e) {
        std::vector<float> out(static_cast<size_t>((e - b) * s.cols));
        t.dequantize_rows(b, e, out.data());
        ASSERT_EQ(bytes_differ(out.data(), ref.data() + b * s.cols, out.size() * sizeof(float)), 0)
            << supported_type_traits(static_cast<uint32_t>(s.type))->name << " rows [" << b << ", " << e << ")";
      }
    }
  }
}

}  // namespace
}  // namespace fedlora::lora
