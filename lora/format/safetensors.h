#pragma once
// safetensors reader and writer. Source: safetensors format (huggingface/safetensors
// README) and the reference implementation's checks (safetensors/src/tensor.rs):
//   8 bytes  N, u64 little-endian: header size
//   N bytes  UTF-8 JSON object, starting with '{', possibly padded with trailing spaces:
//            {"__metadata__": {str: str, ...},            (optional)
//             "<name>": {"dtype": "F32", "shape": [d0, d1, ...],
//                        "data_offsets": [begin, end]}, ...}
//   rest     the data buffer; offsets are relative to its start, [begin, end).
// Data is little-endian and row-major ("C" order, shape[last] fastest).
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "lora/format/mapped_file.h"

namespace fedlora::lora::safetensors {

/// Malformed safetensors input. The message names the source, the field (and the byte
/// offset where one applies), and what was wrong.
class FormatError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// The reference implementation's header size limit (MAX_HEADER_SIZE = 100_000_000).
inline constexpr uint64_t kMaxHeaderBytes = 100'000'000;
/// Reserved top-level header key for the string-to-string metadata map.
inline constexpr std::string_view kMetadataKey = "__metadata__";

/// Element types, in the reference implementation's order (increasing alignment), which
/// the writer uses to order tensors.
enum class Dtype : uint8_t { BOOL, U8, I8, F8_E5M2, F8_E4M3, I16, U16, F16, BF16, I32, U32, F32, F64, I64, U64 };

/// "F32", "BF16", ... as spelled in headers.
std::string_view dtype_name(Dtype d) noexcept;
/// Inverse of dtype_name; std::nullopt for anything else.
std::optional<Dtype> parse_dtype(std::string_view name) noexcept;
/// Bytes per element (1, 2, 4 or 8).
std::size_t dtype_size(Dtype d) noexcept;

/// One header entry. `shape` is row-major as in PyTorch (a Linear weight is [out, in]);
/// an empty shape is a scalar. `begin`/`end` are offsets into the data buffer.
struct TensorInfo {
  std::string name;
  Dtype dtype = Dtype::F32;
  std::vector<uint64_t> shape;
  uint64_t begin = 0;
  uint64_t end = 0;

  /// Product of shape (1 for a scalar). Throws std::overflow_error on overflow.
  uint64_t n_elements() const;
  uint64_t n_bytes() const noexcept { return end - begin; }
  bool operator==(const TensorInfo&) const = default;
};

/// A parsed safetensors file; tensor data stays in the mapping. Movable, not copyable.
///
/// Validated at open, else FormatError: file >= 8 bytes; N <= 100 MB and N <= file size - 8;
/// header starts with '{' and is valid UTF-8 JSON (nlohmann-json's errors are rethrown as
/// FormatError); an object with no duplicate keys at any level and nesting <= 3 deep;
/// `__metadata__`, if present and not null, maps strings to strings; every other entry has
/// a known dtype string, a shape of unsigned integers, and data_offsets of exactly two
/// unsigned integers with begin <= end; n_elements * dtype size == end - begin (checked
/// for overflow); sorted by offsets the tensors tile the data buffer exactly, from 0 to
/// its end, with no overlap and no hole (as the spec requires, to rule out polyglot files).
/// Unknown fields inside a tensor entry are ignored, as the reference implementation does.
class SafetensorsFile {
 public:
  /// Maps and parses `path`. Throws IoError or FormatError.
  static SafetensorsFile open(const std::filesystem::path& path);
  /// Parses an in-memory file image, which the object keeps. `source` names it in errors.
  static SafetensorsFile from_bytes(std::vector<std::byte> bytes, std::string source = "<memory>");

  SafetensorsFile(SafetensorsFile&&) noexcept = default;
  SafetensorsFile& operator=(SafetensorsFile&&) noexcept = default;
  SafetensorsFile(const SafetensorsFile&) = delete;
  SafetensorsFile& operator=(const SafetensorsFile&) = delete;

  const std::string& source() const noexcept { return source_; }
  /// N, the JSON header size in bytes (including trailing padding).
  uint64_t header_size() const noexcept { return header_size_; }
  /// Absolute file offset of the data buffer (8 + N).
  uint64_t data_offset() const noexcept { return 8 + header_size_; }

  /// Tensors in data-buffer order (ascending offsets; ties broken by name).
  const std::vector<TensorInfo>& tensors() const noexcept { return tensors_; }
  /// The tensor named `name`, or nullptr.
  const TensorInfo* find(std::string_view name) const;
  /// The `__metadata__` map (empty when absent).
  const std::map<std::string, std::string>& metadata() const noexcept { return metadata_; }

  /// The tensor's bytes inside the mapping. Throws std::out_of_range if `info` does not
  /// describe a range inside this file's data buffer.
  std::span<const std::byte> tensor_bytes(const TensorInfo& info) const;
  /// Same, by name; throws std::out_of_range naming the tensor if absent.
  std::span<const std::byte> tensor_bytes(std::string_view name) const;

 private:
  SafetensorsFile(ReadOnlyBytes bytes, std::string source) : bytes_(std::move(bytes)), source_(std::move(source)) {}
  void parse();

  ReadOnlyBytes bytes_;
  std::string source_;
  uint64_t header_size_ = 0;
  std::vector<TensorInfo> tensors_;
  std::map<std::string, std::size_t, std::less<>> index_;
  std::map<std::string, std::string> metadata_;
};

/// Builds a safetensors file. Output matches the reference `serialize`: tensors ordered by
/// dtype alignment (largest first, so every tensor starts aligned to its element size) then
/// by name; compact JSON with `__metadata__` first and fields dtype, shape, data_offsets;
/// header padded with spaces to a multiple of 8.
class SafetensorsWriter {
 public:
  /// Adds a tensor (bytes copied). `shape` row-major; bytes.size() must equal
  /// n_elements * dtype_size. Names must be unique, valid UTF-8, and not "__metadata__".
  /// Throws std::invalid_argument otherwise.
  void add_tensor(std::string name, Dtype dtype, std::vector<uint64_t> shape, std::span<const std::byte> bytes);
  /// Same, taking ownership of the bytes.
  void add_tensor(std::string name, Dtype dtype, std::vector<uint64_t> shape, std::vector<std::byte>&& bytes);
  /// Sets a `__metadata__` entry (replacing an existing one). Strings must be valid UTF-8
  /// (checked when serializing; std::invalid_argument).
  void set_metadata(std::string key, std::string value);

  /// The complete file image.
  std::vector<std::byte> serialize() const;
  /// Writes via a temporary file in the same directory and a rename. Throws IoError.
  void write(const std::filesystem::path& path) const;

 private:
  struct Pending {
    std::string name;
    Dtype dtype;
    std::vector<uint64_t> shape;
    std::vector<std::byte> bytes;
  };
  /// 8-byte length + padded JSON header; fills `order` with tensor indices in file order.
  std::vector<std::byte> serialize_header(std::vector<std::size_t>& order) const;

  std::vector<Pending> tensors_;
  std::map<std::string, std::string> metadata_;
};

}  // namespace fedlora::lora::safetensors
