#include "lora/quant/quantized_tensor.h"

#include <cmath>
#include <cstring>
#include <new>
#include <string>
#include <vector>

#include "lora/quant/fp16.h"
#include "lora/quant/q4_0.h"
#include "lora/quant/q8_0.h"
#include "lora/quant/simd.h"

namespace fedlora::lora {
namespace {

// 32-byte alignment lets the F32 bytes be handed to BLAS/ATen as floats and keeps each
// tensor's first block on a cache-line boundary; the kernels themselves load unaligned.
template <class T>
struct Aligned32Allocator {
  using value_type = T;
  static constexpr std::align_val_t kAlign{32};
  Aligned32Allocator() = default;
  template <class U>
  Aligned32Allocator(const Aligned32Allocator<U>&) {}
  T* allocate(size_t n) { return static_cast<T*>(::operator new(n * sizeof(T), kAlign)); }
  void deallocate(T* p, size_t) { ::operator delete(p, kAlign); }
  template <class U>
  bool operator==(const Aligned32Allocator<U>&) const { return true; }
};
using AlignedBytes = std::vector<std::byte, Aligned32Allocator<std::byte>>;

std::string shape_str(GgmlType type, int64_t rows, int64_t cols) {
  auto traits = supported_type_traits(static_cast<uint32_t>(type));
  const std::string name = traits ? std::string(traits->name)
                                  : "ggml type " + std::to_string(static_cast<uint32_t>(type));
  return name + " [" + std::to_string(rows) + " x " + std::to_string(cols) + "]";
}

// Validates type and shape; returns the bytes of one row. Every path that makes a
// QuantizedTensor goes through here.
size_t checked_row_bytes(const char* fn, GgmlType type, int64_t rows, int64_t cols) {
  const std::string where = std::string("QuantizedTensor::") + fn + ": " + shape_str(type, rows, cols);
  const auto traits = supported_type_traits(static_cast<uint32_t>(type));
  if (!traits) {
    throw QuantError(where + ": unsupported tensor type; only F32, F16, Q8_0 and Q4_0 are supported");
  }
  if (rows < 1 || cols < 1) throw QuantError(where + ": rows and cols must both be >= 1");
  if (cols % traits->block_elems != 0) {
    throw QuantError(where + ": cols must be a multiple of the block size " +
                     std::to_string(traits->block_elems) + " (re-export with another type or pad the rows)");
  }
  const auto row_bytes = ggml_row_bytes(type, static_cast<uint64_t>(cols));
  uint64_t total = 0, elems = 0;
  if (!row_bytes || __builtin_mul_overflow(*row_bytes, static_cast<uint64_t>(rows), &total) ||
      __builtin_mul_overflow(static_cast<uint64_t>(cols), static_cast<uint64_t>(rows), &elems) ||
      total > PTRDIFF_MAX || elems > PTRDIFF_MAX / sizeof(float)) {
    throw QuantError(where + ": tensor too large for this address space");
  }
  return static_cast<size_t>(*row_bytes);
}

void check_byte_count(const char* fn, GgmlType type, int64_t rows, int64_t cols, size_t row_bytes,
                      size_t got) {
  const size_t want = row_bytes * static_cast<size_t>(rows);
  if (got != want) {
    throw QuantError(std::string("QuantizedTensor::") + fn + ": " + shape_str(type, rows, cols) +
                     " needs " + std::to_string(want) + " bytes, got " + std::to_string(got) +
                     " (type, shape or data size is wrong)");
  }
}

}  // namespace

QuantizedTensor::QuantizedTensor(GgmlType type, int64_t rows, int64_t cols, size_t row_bytes,
                                 const std::byte* data, size_t size,
                                 std::shared_ptr<const void> keep_alive, bool owned)
    : type_(type), rows_(rows), cols_(cols), row_bytes_(row_bytes), data_(data), size_(size),
      keep_alive_(std::move(keep_alive)), owned_(owned) {}

QuantizedTensor QuantizedTensor::quantize(const float* src, int64_t rows, int64_t cols,
                                          GgmlType type) {
  const size_t row_bytes = checked_row_bytes("quantize", type, rows, cols);
  if (src == nullptr) throw QuantError("QuantizedTensor::quantize: src is null");
  const size_t ncols = static_cast<size_t>(cols);
  const bool block_type = type == GgmlType::Q8_0 || type == GgmlType::Q4_0;
  if (block_type) {
    const size_t n = ncols * static_cast<size_t>(rows);
    const size_t i = detail::first_non_finite(src, n);
    if (i != n) {
      throw QuantError("QuantizedTensor::quantize: " + shape_str(type, rows, cols) + ": weight at row " +
                       std::to_string(i / ncols) + ", col " + std::to_string(i % ncols) +
                       " is not finite; block formats can only encode finite weights");
    }
  }
  auto storage = std::make_shared<AlignedBytes>(row_bytes * static_cast<size_t>(rows));
  std::byte* dst = storage->data();
  const size_t n = ncols * static_cast<size_t>(rows);
  switch (type) {
    case GgmlType::F32:
      std::memcpy(dst, src, n * sizeof(float));
      break;
    case GgmlType::F16:
      fp32_to_fp16_row(src, reinterpret_cast<uint16_t*>(dst), n);
      break;
    case GgmlType::Q8_0:
      quantize_row_q8_0({src, n}, {reinterpret_cast<BlockQ8_0*>(dst), n / kQK8_0});
      break;
    case GgmlType::Q4_0:
      quantize_row_q4_0({src, n}, {reinterpret_cast<BlockQ4_0*>(dst), n / kQK4_0});
      break;
    default:
      throw QuantError("QuantizedTensor::quantize: unreachable type");  // rejected above
  }
  const size_t size = storage->size();
  return QuantizedTensor(type, rows, cols, row_bytes, dst, size, std::move(storage), true);
}

QuantizedTensor QuantizedTensor::from_bytes(GgmlType type, int64_t rows, int64_t cols,
                                            std::span<const std::byte> bytes) {
  const size_t row_bytes = checked_row_bytes("from_bytes", type, rows, cols);
  check_byte_count("from_bytes", type, rows, cols, row_bytes, bytes.size());
  auto storage = std::make_shared<AlignedBytes>(bytes.begin(), bytes.end());
  const std::byte* data = storage->data();
  return QuantizedTensor(type, rows, cols, row_bytes, data, bytes.size(), std::move(storage), true);
}

QuantizedTensor QuantizedTensor::view(GgmlType type, int64_t rows, int64_t cols,
                                      std::span<const std::byte> bytes,
                                      std::shared_ptr<const void> keep_alive) {
  const size_t row_bytes = checked_row_bytes("view", type, rows, cols);
  check_byte_count("view", type, rows, cols, row_bytes, bytes.size());
  const size_t align = type == GgmlType::F32 ? alignof(float) : alignof(uint16_t);
  if (reinterpret_cast<uintptr_t>(bytes.data()) % align != 0) {
    throw QuantError("QuantizedTensor::view: " + shape_str(type, rows, cols) + ": data address is not " +
                     std::to_string(align) + "-byte aligned (GGUF tensor data is 32-aligned; check the offset)");
  }
  return QuantizedTensor(type, rows, cols, row_bytes, bytes.data(), bytes.size(), std::move(keep_alive),
                         false);
}

std::span<const std::byte> QuantizedTensor::row(int64_t r) const {
  if (r < 0 || r >= rows_) {
    throw QuantError("QuantizedTensor::row: row " + std::to_string(r) + " out of range for " +
                     shape_str(type_, rows_, cols_));
  }
  return {data_ + static_cast<size_t>(r) * row_bytes_, row_bytes_};
}

void QuantizedTensor::dequantize_rows(int64_t row_begin, int64_t row_end, float* out) const {
  if (row_begin < 0 || row_begin > row_end || row_end > rows_) {
    throw QuantError("QuantizedTensor::dequantize_rows: rows [" + std::to_string(row_begin) + ", " +
                     std::to_string(row_end) + ") are not within [0, " + std::to_string(rows_) + ") of " +
                     shape_str(type_, rows_, cols_));
  }
  const size_t nrows = static_cast<size_t>(row_end - row_begin);
  if (nrows == 0) return;
  const std::byte* src = data_ + static_cast<size_t>(row_begin) * row_bytes_;
  const size_t n = nrows * static_cast<size_t>(cols_);  // rows are contiguous: one run
  switch (type_) {
    case GgmlType::F32:
      std::memcpy(out, src, n * sizeof(float));
      break;
    case GgmlType::F16:
      fp16_to_fp32_row(reinterpret_cast<const uint16_t*>(src), out, n);
      break;
    case GgmlType::Q8_0:
      dequantize_row_q8_0({reinterpret_cast<const BlockQ8_0*>(src), n / kQK8_0}, {out, n});
      break;
    case GgmlType::Q4_0:
      dequantize_row_q4_0({reinterpret_cast<const BlockQ4_0*>(src), n / kQK4_0}, {out, n});
      break;
    default:
      throw QuantError("QuantizedTensor::dequantize_rows: unreachable type");
  }
}

void QuantizedTensor::dequantize_row_ref(int64_t r, float* out) const {
  const std::byte* src = row(r).data();
  const size_t n = static_cast<size_t>(cols_);
  switch (type_) {
    case GgmlType::F32:
      std::memcpy(out, src, n * sizeof(float));
      break;
    case GgmlType::F16:
      fp16_to_fp32_row_ref(reinterpret_cast<const uint16_t*>(src), out, n);
      break;
    case GgmlType::Q8_0:
      dequantize_row_q8_0_ref({reinterpret_cast<const BlockQ8_0*>(src), n / kQK8_0}, {out, n});
      break;
    case GgmlType::Q4_0:
      dequantize_row_q4_0_ref({reinterpret_cast<const BlockQ4_0*>(src), n / kQK4_0}, {out, n});
      break;
    default:
      throw QuantError("QuantizedTensor::dequantize_row_ref: unreachable type");
  }
}

}  // namespace fedlora::lora
