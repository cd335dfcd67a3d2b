#pragma once
// GGUF v3 reader over a read-only memory mapping.
// Source: GGUF spec (ggml docs/gguf.md); checks mirror llama.cpp ggml/src/gguf.cpp.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <map>
#include <vector>

#include "lora/format/gguf_types.h"
#include "lora/format/mapped_file.h"

namespace fedlora::lora::gguf {

/// A parsed GGUF file. Tensor data is not copied: `tensor_bytes` points into the mapping
/// (or the owned buffer), which lives as long as this object. Movable, not copyable.
///
/// Everything is validated when the file is opened, so later accessors cannot read out of
/// bounds. Any malformed byte throws FormatError naming the field and its byte offset:
/// - magic "GGUF"; version 3 (version 2 has the identical little-endian layout and is
///   accepted as llama.cpp does; version 1, other versions and byte-swapped big-endian
///   files are refused with a message saying so);
/// - tensor and key/value counts bounded by the bytes left in the file, string and array
///   lengths bounded the same way (so a length of 2^63 is an error, not an allocation);
/// - keys non-empty, ASCII, at most 65535 bytes, unique; value type ids 0..12; bools 0 or 1;
///   arrays nested at most kMaxArrayDepth deep;
/// - `general.alignment`, if present, of type u32 and a power of two >= 8 (default 32);
/// - tensor names at most 64 bytes and unique; at most 4 dims; element count <= 2^63-1;
///   ne[0] a multiple of the type's block size; offsets multiples of the alignment;
///   data ranges inside the file and not overlapping; the padding before the data section
///   present.
/// Tensors of types other than F32/F16/Q4_0/Q8_0 throw UnsupportedTypeError (a FormatError)
/// naming the tensor and the type id.
class GgufFile {
 public:
  /// Maps and parses `path`. Throws IoError (cannot open/map) or FormatError.
  static GgufFile open(const std::filesystem::path& path);
  /// Parses an in-memory file image, which the GgufFile keeps. `source` names it in errors.
  static GgufFile from_bytes(std::vector<std::byte> bytes, std::string source = "<memory>");

  GgufFile(GgufFile&&) noexcept = default;
  GgufFile& operator=(GgufFile&&) noexcept = default;
  GgufFile(const GgufFile&) = delete;
  GgufFile& operator=(const GgufFile&) = delete;

  /// The path or source name given at open.
  const std::string& source() const noexcept { return source_; }
  uint32_t version() const noexcept { return version_; }
  /// `general.alignment`, or 32 when absent.
  uint32_t alignment() const noexcept { return alignment_; }
  /// Absolute file offset of the tensor data section (a multiple of alignment()).
  uint64_t data_offset() const noexcept { return data_offset_; }
  /// Total file size in bytes.
  uint64_t file_size() const noexcept { return bytes_.bytes().size(); }

  /// All key/value pairs, in file order.
  const std::vector<KeyValue>& metadata() const noexcept { return metadata_; }
  /// The value of `key`, or nullptr.
  const Value* find(std::string_view key) const;

  // Typed lookups. The get_* forms throw FormatError when the key is missing or holds
  // another type ("key 'x' has type f32, expected u32"). The find_* forms return
  // std::nullopt when the key is missing and throw the same FormatError on a type mismatch.
  uint8_t get_u8(std::string_view key) const;
  int8_t get_i8(std::string_view key) const;
  uint16_t get_u16(std::string_view key) const;
  int16_t get_i16(std::string_view key) const;
  uint32_t get_u32(std::string_view key) const;
  int32_t get_i32(std::string_view key) const;
  uint64_t get_u64(std::string_view key) const;
  int64_t get_i64(std::string_view key) const;
  float get_f32(std::string_view key) const;
  double get_f64(std::string_view key) const;
  bool get_bool(std::string_view key) const;
  const std::string& get_string(std::string_view key) const;
  const Array& get_array(std::string_view key) const;
  const std::vector<std::string>& get_string_array(std::string_view key) const;
  const std::vector<float>& get_f32_array(std::string_view key) const;
  const std::vector<int32_t>& get_i32_array(std::string_view key) const;
  /// Any unsigned integer type (u8/u16/u32/u64) widened to u64. The spec recommends
  /// readers accept both u32 and u64 for counts and lengths.
  uint64_t get_uint(std::string_view key) const;

  std::optional<uint32_t> find_u32(std::string_view key) const;
  std::optional<int32_t> find_i32(std::string_view key) const;
  std::optional<uint64_t> find_u64(std::string_view key) const;
  std::optional<float> find_f32(std::string_view key) const;
  std::optional<bool> find_bool(std::string_view key) const;
  std::optional<std::string> find_string(std::string_view key) const;
  std::optional<std::vector<std::string>> find_string_array(std::string_view key) const;
  std::optional<std::vector<float>> find_f32_array(std::string_view key) const;
  std::optional<std::vector<int32_t>> find_i32_array(std::string_view key) const;
  std::optional<uint64_t> find_uint(std::string_view key) const;

  /// Tensor infos in file order.
  const std::vector<TensorInfo>& tensors() const noexcept { return tensors_; }
  /// The tensor named `name`, or nullptr.
  const TensorInfo* find_tensor(std::string_view name) const;
  /// The tensor's data (n_bytes() bytes) inside the mapping. Throws std::out_of_range if
  /// `info` does not describe a range inside this file's data section.
  std::span<const std::byte> tensor_bytes(const TensorInfo& info) const;
  /// Same, by name. Throws std::out_of_range naming the tensor if it is absent.
  std::span<const std::byte> tensor_bytes(std::string_view name) const;

 private:
  GgufFile(ReadOnlyBytes bytes, std::string source);
  void parse();
  template <class T>
  const T& get_typed(std::string_view key, std::string_view expected) const;
  template <class T>
  const T* find_typed(std::string_view key, std::string_view expected) const;
  template <class T>
  const std::vector<T>& get_array_of(std::string_view key, std::string_view expected) const;
  template <class T>
  const std::vector<T>* find_array_of(std::string_view key, std::string_view expected) const;
  [[noreturn]] void throw_missing(std::string_view key, std::string_view expected) const;
  [[noreturn]] void throw_mismatch(std::string_view key, const Value& v, std::string_view expected) const;

  ReadOnlyBytes bytes_;
  std::string source_;
  uint32_t version_ = 0;
  uint32_t alignment_ = kDefaultAlignment;
  uint64_t data_offset_ = 0;
  std::vector<KeyValue> metadata_;
  std::vector<TensorInfo> tensors_;
  std::map<std::string, std::size_t, std::less<>> key_index_;
  std::map<std::string, std::size_t, std::less<>> tensor_index_;
};

}  // namespace fedlora::lora::gguf
