// QuantizedTensor: validation errors, byte layout (row r = its own run of blocks), owned
// vs viewed storage, fast vs reference decode, and concurrent readers.
#include "lora/quant/quantized_tensor.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "lora/quant/q4_0.h"
#include "lora/quant/q8_0.h"
#include "lora/quant/simd.h"
#include "tests/lora/quant/random_blocks.h"
#include "tests/support/normal_floats.h"

namespace fedlora::lora {
namespace {

// Weights of a typical scale.
std::vector<float> gaussian(size_t n, uint32_t seed) { return test::normal_floats(n, seed, 0.05f); }

template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const QuantError& e) {
    return e.what();
  }
  return "";
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

TEST(QuantizedTensor, ValidationErrors) {
  const auto w = gaussian(64 * 40, 1);
  // Block types need whole blocks per row.
  auto e = error_of([&] { QuantizedTensor::quantize(w.data(), 2, 40, GgmlType::Q8_0); });
  EXPECT_TRUE(contains(e, "multiple of the block size 32")) << e;
  e = error_of([&] { QuantizedTensor::quantize(w.data(), 1, 33, GgmlType::Q4_0); });
  EXPECT_TRUE(contains(e, "Q4_0 [1 x 33]")) << e;
  EXPECT_NO_THROW(QuantizedTensor::quantize(w.data(), 1, 33, GgmlType::F16));  // no blocks
  EXPECT_NO_THROW(QuantizedTensor::quantize(w.data(), 3, 7, GgmlType::F32));
  // Shapes.
  EXPECT_FALSE(error_of([&] { QuantizedTensor::quantize(w.data(), 0, 32, GgmlType::Q8_0); }).empty());
  EXPECT_FALSE(error_of([&] { QuantizedTensor::quantize(w.data(), 1, -32, GgmlType::F32); }).empty());
  EXPECT_FALSE(error_of([&] { QuantizedTensor::quantize(nullptr, 1, 32, GgmlType::F32); }).empty());
  e = error_of([&] { QuantizedTensor::quantize(w.data(), INT64_MAX / 16, 64, GgmlType::F32); });
  EXPECT_TRUE(contains(e, "too large")) << e;
  // Types without kernels, and ids that are not ggml types at all.
  e = error_of([&] { QuantizedTensor::quantize(w.data(), 1, 32, GgmlType::Q4_1); });
  EXPECT_TRUE(contains(e, "unsupported")) << e;
  e = error_of([&] { QuantizedTensor::quantize(w.data(), 1, 32, static_cast<GgmlType>(99)); });
  EXPECT_TRUE(contains(e, "ggml type 99")) << e;
  // Non-finite weights are named by row and column.
  auto bad = w;
  bad[64 + 5] = NAN;
  e = error_of([&] { QuantizedTensor::quantize(bad.data(), 2, 64, GgmlType::Q8_0); });
  EXPECT_TRUE(contains(e, "row 1, col 5")) << e;
  // Byte counts must match the shape exactly.
  std::vector<std::byte> bytes(34 * 2);
  EXPECT_NO_THROW(QuantizedTensor::from_bytes(GgmlType::Q8_0, 1, 64, bytes));
  e = error_of([&] { QuantizedTensor::from_bytes(GgmlType::Q8_0, 2, 64, bytes); });
  EXPECT_TRUE(contains(e, "needs 136 bytes, got 68")) << e;
  EXPECT_FALSE(error_of([&] { QuantizedTensor::from_bytes(GgmlType::Q4_0, 1, 64, bytes); }).empty());
  EXPECT_FALSE(error_of([&] { QuantizedTensor::view(GgmlType::F16, 1, 35, bytes, nullptr); }).empty());
  // Views must be aligned for their element type.
  std::vector<float> f(9);
  const auto fb = std::as_bytes(std::span<float>(f));
  e = error_of([&] { QuantizedTensor::view(GgmlType::F32, 2, 4, fb.subspan(2, 32), nullptr); });
  EXPECT_TRUE(contains(e, "4-byte aligned")) << e;
  EXPECT_NO_THROW(QuantizedTensor::view(GgmlType::F16, 2, 8, fb.subspan(2, 32), nullptr));
  e = error_of([&] { QuantizedTensor::view(GgmlType::F16, 2, 8, fb.subspan(1, 32), nullptr); });
  EXPECT_TRUE(contains(e, "2-byte aligned")) << e;
}

TEST(QuantizedTensor, RowRangeErrors) {
  const auto w = gaussian(4 * 64, 2);
  const auto t = QuantizedTensor::quantize(w.data(), 4, 64, GgmlType::Q4_0);
  std::vector<float> out(5 * 64);
  EXPECT_THROW(t.dequantize_rows(-1, 2, out.data()), QuantError);
  EXPECT_THROW(t.dequantize_rows(3, 2, out.data()), QuantError);
  EXPECT_THROW(t.dequantize_rows(0, 5, out.data()), QuantError);
  EXPECT_THROW(t.row(4), QuantError);
  EXPECT_THROW(t.dequantize_row_ref(-1, out.data()), QuantError);
  EXPECT_NO_THROW(t.dequantize_rows(2, 2, out.data()));  // empty range
}

TEST(QuantizedTensor, LayoutIsRowsOfBlocks) {
  // 3 rows x 64 cols of Q8_0: 2 blocks (68 bytes) per row; row r, block k starts at byte
  // 68r + 34k. Row 1 is [1, 2, ..., 64]; rows 0 and 2 are zero.
  std::vector<float> w(3 * 64, 0.0f);
  for (int j = 0; j < 64; ++j) w[64 + j] = static_cast<float>(j + 1);
  const auto t = QuantizedTensor::quantize(w.data(), 3, 64, GgmlType::Q8_0);
  EXPECT_EQ(t.rows(), 3);
  EXPECT_EQ(t.cols(), 64);
  EXPECT_EQ(t.type(), GgmlType::Q8_0);
  EXPECT_EQ(t.row_bytes(), 68u);
  ASSERT_EQ(t.bytes().size(), 3u * 68u);
  EXPECT_EQ(t.row(1).data(), t.bytes().data() + 68);
  BlockQ8_0 b0, b1;
  std::memcpy(&b0, t.bytes().data() + 68, 34);
  std::memcpy(&b1, t.bytes().data() + 68 + 34, 34);
  // Block 0 of row 1: amax = 32, d = 32/127 = 0.251969 = 1.007874 * 2^-2: exponent 13 ->
  // 0x3400, fraction 0.007874 * 1024 = 8.06 -> 8: 0x3408. Element 31 (= 32) -> 127; element
  // 0 (= 1) -> 1 * 3.96875 -> 4; element 15 (= 16) -> 63.5 -> 64 (tie away from zero:
  // id = fl(1/fl(32/127)) = 3.96875 exactly, as for 1/127 scaled by 32).
  EXPECT_EQ(b0.d, 0x3408);
  EXPECT_EQ(b0.qs[31], 127);
  EXPECT_EQ(b0.qs[0], 4);
  EXPECT_EQ(b0.qs[15], 64);
  // Block 1: amax = 64 -> d = 64/127 = 1.007874 * 2^-1 -> 0x3808, element 63 (= 64) -> 127,
  // element 32 (= 33) -> 33 * 1.984375 = 65.48 -> 65.
  EXPECT_EQ(b1.d, 0x3808);
  EXPECT_EQ(b1.qs[31], 127);
  EXPECT_EQ(b1.qs[0], 65);
  // Rows 0 and 2 are zero: d = 0 and quants 0.
  for (auto r : {0, 2}) {
    for (std::byte x : t.row(r)) ASSERT_EQ(x, std::byte{0});
  }
}

TEST(QuantizedTensor, F16AndF32Rows) {
  const std::vector<float> w = {1.0f, -2.0f, 65504.0f, 0.1f, 1e-10f, 70000.0f};
  const auto h = QuantizedTensor::quantize(w.data(), 2, 3, GgmlType::F16);
  ASSERT_EQ(h.bytes().size(), 12u);
  uint16_t bits[6];
  std::memcpy(bits, h.bytes().data(), 12);
  // Hand values (see fp16_test): 1 -> 0x3C00, -2 -> 0xC000, 65504 -> 0x7BFF, 0.1 -> 0x2E66,
  // 1e-10 -> +0, 70000 -> +Inf (ggml saturates to Inf as well).
  const uint16_t want[6] = {0x3C00, 0xC000, 0x7BFF, 0x2E66, 0x0000, 0x7C00};
  for (int i = 0; i < 6; ++i) EXPECT_EQ(bits[i], want[i]) << i;
  std::vector<float> out(6);
  h.dequantize_rows(0, 2, out.data());
  EXPECT_EQ(out[3], 0.0999755859375f);  // 0x2E66 = 1.599609375 * 2^-4
  EXPECT_TRUE(std::isinf(out[5]));
  const auto f = QuantizedTensor::quantize(w.data(), 2, 3, GgmlType::F32);
  f.dequantize_rows(1, 2, out.data());
  EXPECT_EQ(std::memcmp(out.data(), w.data() + 3, 3 * sizeof(float)), 0);
}

TEST(QuantizedTensor, OwnedStorageIsAlignedAndShared) {
  const auto w = gaussian(8 * 96, 3);
  for (GgmlType type : {GgmlType::F32, GgmlType::F16, GgmlType::Q8_0, GgmlType::Q4_0}) {
    const auto t = QuantizedTensor::quantize(w.data(), 8, 96, type);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(t.bytes().data()) % 32, 0u);
    EXPECT_TRUE(t.owns_bytes());
    EXPECT_EQ(t.resident_bytes(), t.bytes().size());
    EXPECT_EQ(t.bytes().size(), *ggml_row_bytes(type, 96) * 8);
    const QuantizedTensor copy = t;  // shares the immutable bytes
    EXPECT_EQ(copy.bytes().data(), t.bytes().data());
  }
  // from_bytes copies: the source may go away.
  auto src = std::make_unique<std::vector<std::byte>>(18 * 2, std::byte{0x88});
  const auto t = QuantizedTensor::from_bytes(GgmlType::Q4_0, 1, 64, *src);
  src.reset();
  std::vector<float> out(64);
  t.dequantize_rows(0, 1, out.data());  // d = 0 -> all zeros
  for (float v : out) EXPECT_EQ(v, 0.0f);
}

TEST(QuantizedTensor, ViewKeepsOwnerAlive) {
  const auto w = gaussian(4 * 64, 4);
  const auto owned = QuantizedTensor::quantize(w.data(), 4, 64, GgmlType::Q8_0);
  auto buffer = std::make_shared<std::vector<std::byte>>(owned.bytes().begin(), owned.bytes().end());
  std::weak_ptr<std::vector<std::byte>> watch = buffer;
  std::optional<QuantizedTensor> view =
      QuantizedTensor::view(GgmlType::Q8_0, 4, 64, *buffer, std::shared_ptr<const void>(buffer));
  buffer.reset();
  EXPECT_FALSE(watch.expired());  // the view holds the mapping/buffer
  EXPECT_FALSE(view->owns_bytes());
  EXPECT_EQ(view->resident_bytes(), 0u);
  std::vector<float> a(4 * 64), b(4 * 64);
  view->dequantize_rows(0, 4, a.data());
  owned.dequantize_rows(0, 4, b.data());
  EXPECT_EQ(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)), 0);
  view.reset();
  EXPECT_TRUE(watch.expired());
}

TEST(QuantizedTensor, DequantizeRowsEqualsRowReference) {
  SCOPED_TRACE(std::string("kernel path: ") + std::string(quant_kernel_path()));
  const int64_t rows = 48, cols = 256;
  const auto w = testref::random_blocks(rows * cols / 32, testref::all_kinds(), 31);
  for (GgmlType type : {GgmlType::F32, GgmlType::F16, GgmlType::Q8_0, GgmlType::Q4_0}) {
    const auto t = QuantizedTensor::quantize(w.data(), rows, cols, type);
    std::vector<float> fast(static_cast<size_t>(rows * cols)), ref(static_cast<size_t>(cols));
    t.dequantize_rows(5, rows, fast.data());
    for (int64_t r = 5; r < rows; ++r) {
      t.dequantize_row_ref(r, ref.data());
      ASSERT_EQ(std::memcmp(ref.data(), fast.data() + (r - 5) * cols, cols * sizeof(float)), 0)
          << "type " << supported_type_traits(static_cast<uint32_t>(type))->name << " row " << r;
    }
  }
}

TEST(QuantizedTensor, ConcurrentReadersSeeTheSameValues) {
  const int64_t rows = 64, cols = 128;
  const auto w = gaussian(rows * cols, 5);
  const auto t = QuantizedTensor::quantize(w.data(), rows, cols, GgmlType::Q4_0);
  std::vector<float> expect(static_cast<size_t>(rows * cols));
  for (int64_t r = 0; r < rows; ++r) t.dequantize_row_ref(r, expect.data() + r * cols);
  std::vector<int> mismatches(4, 0);
  std::vector<std::thread> threads;
  for (int k = 0; k < 4; ++k) {
    threads.emplace_back([&, k] {
      std::vector<float> out(static_cast<size_t>(cols));
      for (int it = 0; it < 200; ++it) {
        const int64_t r = (it * 7 + k * 13) % rows;
        t.dequantize_rows(r, r + 1, out.data());
        mismatches[k] += std::memcmp(out.data(), expect.data() + r * cols, cols * sizeof(float)) != 0;
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int k = 0; k < 4; ++k) EXPECT_EQ(mismatches[k], 0) << "thread " << k;
}

}  // namespace
}  // namespace fedlora::lora
