#pragma once
// GGUF v3 writer. Byte layout per the GGUF spec (ggml docs/gguf.md) and llama.cpp's
// gguf_write_to_buf (ggml/src/gguf.cpp), so files open in llama.cpp:
//   "GGUF", u32 version=3, u64 tensor_count, u64 kv_count,
//   kv pairs (u64-length key, u32 type, value; arrays: u32 elem type, u64 count, elems),
//   tensor infos (name, u32 n_dims, u64 dims[n_dims] ne[0] first, u32 type, u64 offset),
//   zero padding to `general.alignment`, then each tensor's bytes followed by zero
//   padding to the alignment. Offsets are relative to the data section and consecutive,
//   which llama.cpp's reader requires.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "lora/format/gguf_types.h"

namespace fedlora::lora::gguf {

/// Builds a GGUF file in memory and writes it. Not thread-safe.
class GgufWriter {
 public:
  /// Sets `key` (replacing an existing value in place, so key order is first-set order).
  /// Accepts every value type: integers of each width, float, double, bool, std::string
  /// (or const char*), and Array (also implicitly from std::vector<T> of any value type,
  /// e.g. std::vector<std::string> or std::vector<float>). Pass explicitly sized integers
  /// (uint32_t{5}); a plain int literal becomes i32.
  /// Throws std::invalid_argument if the key is not a spec key (ASCII, 1..65535 bytes,
  /// `.`-separated lower_snake_case segments of [a-z0-9_]) or if `general.alignment` is
  /// not a u32 power of two >= 8. Arrays of arrays are written per the spec, but
  /// llama.cpp's reader refuses them.
  void set(std::string key, Value value);

  /// Adds a tensor; the bytes are copied. `dims` in ggml order (ne[0] first, 1..4 dims,
  /// each >= 1); `type` F32, F16, Q4_0 or Q8_0 with ne[0] a multiple of its block size;
  /// `bytes.size()` must equal the type's size for those dims. Names are 1..63 bytes
  /// (llama.cpp's GGML_MAX_NAME) and unique. Throws std::invalid_argument otherwise.
  void add_tensor(std::string name, GgmlType type, std::vector<uint64_t> dims, std::span<const std::byte> bytes);
  /// Same, taking ownership of the bytes without a copy.
  void add_tensor(std::string name, GgmlType type, std::vector<uint64_t> dims, std::vector<std::byte>&& bytes);

  /// Alignment that will be used: `general.alignment` if set, else 32.
  uint32_t alignment() const noexcept;
  const std::vector<KeyValue>& metadata() const noexcept { return kvs_; }

  /// The complete file image.
  std::vector<std::byte> serialize() const;
  /// Writes the file to a temporary file next to `path` and renames it over `path`, so a
  /// crash never leaves a partial file. Throws IoError.
  void write(const std::filesystem::path& path) const;

 private:
  struct PendingTensor {
    TensorInfo info;  // offset assigned at serialization
    std::vector<std::byte> bytes;
  };
  void check_tensor(const std::string& name, GgmlType type, const std::vector<uint64_t>& dims, std::size_t n_bytes) const;
  std::vector<std::byte> serialize_header() const;  // everything up to the data section

  std::vector<KeyValue> kvs_;
  std::vector<PendingTensor> tensors_;
};

}  // namespace fedlora::lora::gguf
