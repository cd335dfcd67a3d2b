#pragma once
// A frozen 2-D weight matrix stored in one ggml tensor type (F32, F16, Q8_0 or Q4_0; GGUF
// spec docs/gguf.md, ggml block_q8_0 / block_q4_0). Shape [rows, cols] = [out_features,
// in_features], row-major: a row is one output neuron and its cols weights are contiguous,
// i.e. GGUF ne[0] = cols, ne[1] = rows. Each row is cols / 32 whole blocks for the block
// types, so a row can be dequantized on its own.
//
// The bytes are either owned (a 32-byte-aligned heap buffer, shared by copies of the
// tensor) or viewed in memory owned by something else, e.g. a memory-mapped GGUF file
// kept alive by a shared_ptr handle. Either way they never change after construction, so
// one tensor may be read by any number of threads at once.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

#include "lora/quant/ggml_type.h"
#include "lora/quant/quant_error.h"

namespace fedlora::lora {

class QuantizedTensor {
 public:
  /// Quantizes row-major fp32 `src` (rows * cols floats) into a new owned tensor, bit-
  /// identical to ggml's reference quantizers (quantize_row_q8_0_ref / _q4_0_ref; F16 via
  /// ggml_compute_fp32_to_fp16; F32 copied). Throws QuantError if rows or cols < 1, if
  /// cols % 32 != 0 for Q8_0/Q4_0, if the type is not one of the four supported, if the
  /// size overflows, or if a Q8_0/Q4_0 input is not finite (the message names the row).
  static QuantizedTensor quantize(const float* src, int64_t rows, int64_t cols, GgmlType type);

  /// Copies already-encoded bytes (e.g. read from a file) into a new owned tensor. Throws
  /// QuantError on an unsupported type, bad shape, or bytes.size() != rows * row_bytes.
  static QuantizedTensor from_bytes(GgmlType type, int64_t rows, int64_t cols,
                                    std::span<const std::byte> bytes);

  /// Views `bytes` without copying; `keep_alive` (may own the mapping, or be empty if the
  /// caller guarantees the lifetime) is held as long as any copy of the tensor lives. Same
  /// checks as from_bytes, plus: bytes.data() must be aligned to 4 for F32 and to 2 for the
  /// other types (GGUF aligns tensor data to 32).
  static QuantizedTensor view(GgmlType type, int64_t rows, int64_t cols,
                              std::span<const std::byte> bytes,
                              std::shared_ptr<const void> keep_alive);

  // Copies share the immutable bytes (and the keep-alive handle). No move constructor on
  // purpose: a moved-from tensor would point at bytes it no longer keeps alive, so a move
  // is a (cheap) copy.
  QuantizedTensor(const QuantizedTensor&) = default;
  QuantizedTensor& operator=(const QuantizedTensor&) = default;

  GgmlType type() const { return type_; }
  int64_t rows() const { return rows_; }
  int64_t cols() const { return cols_; }
  /// Bytes of one encoded row (cols/32 blocks, or cols elements for F32/F16).
  size_t row_bytes() const { return row_bytes_; }
  /// All encoded bytes, rows back to back: exactly a GGUF tensor's data.
  std::span<const std::byte> bytes() const { return {data_, size_}; }
  /// Encoded bytes of row r (0 <= r < rows); throws QuantError otherwise.
  std::span<const std::byte> row(int64_t r) const;
  /// True when this tensor owns its bytes, false for a view.
  bool owns_bytes() const { return owned_; }
  /// Heap bytes held by this tensor's storage: bytes().size() when owned, 0 for a view
  /// (the viewed memory is accounted to its owner, e.g. the mapped file, and shared).
  size_t resident_bytes() const { return owned_ ? size_ : 0; }

  /// Decodes rows [row_begin, row_end) into `out`, which must hold
  /// (row_end - row_begin) * cols floats, row-major. Uses the AVX2/F16C (x86) or NEON
  /// (aarch64) kernels when the CPU has them; bit-identical to dequantize_row_ref. Throws QuantError unless
  /// 0 <= row_begin <= row_end <= rows.
  void dequantize_rows(int64_t row_begin, int64_t row_end, float* out) const;

  /// Scalar reference decode of one row into `out` (cols floats), for tests.
  void dequantize_row_ref(int64_t row, float* out) const;

 private:
  QuantizedTensor(GgmlType type, int64_t rows, int64_t cols, size_t row_bytes,
                  const std::byte* data, size_t size, std::shared_ptr<const void> keep_alive,
                  bool owned);

  GgmlType type_;
  int64_t rows_;
  int64_t cols_;
  size_t row_bytes_;
  const std::byte* data_;
  size_t size_;
  std::shared_ptr<const void> keep_alive_;
  bool owned_;
};

}  // namespace fedlora::lora
