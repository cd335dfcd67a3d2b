#pragma once
// GGUF v3 data model: metadata value types, values, tensor infos and errors.
// Source: GGUF spec (ggml docs/gguf.md), cross-checked against llama.cpp ggml/src/gguf.cpp.
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <variant>
#include <vector>

#include "lora/quant/ggml_type.h"

namespace fedlora::lora::gguf {

/// Malformed or unsupported GGUF input. The message names the source (path), the field and
/// its byte offset in the file, what was wrong, and where possible what to do.
class FormatError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// A well-formed file that holds a tensor of a ggml type fedlora has no kernels for
/// (anything but F32, F16, Q4_0, Q8_0). The message names the tensor and the type id.
class UnsupportedTypeError : public FormatError {
 public:
  using FormatError::FormatError;
};

inline constexpr char kMagic[4] = {'G', 'G', 'U', 'F'};
inline constexpr uint32_t kVersion = 3;
/// Used when the file has no `general.alignment` key (spec: "assume it is 32").
inline constexpr uint32_t kDefaultAlignment = 32;
inline constexpr std::string_view kAlignmentKey = "general.alignment";
/// Spec: "Currently at most 4" dimensions; ggml's GGML_MAX_DIMS.
inline constexpr uint32_t kMaxDims = 4;
/// Spec: a key "must be at most 2^16-1 bytes long".
inline constexpr std::size_t kMaxKeyBytes = 65535;
/// Spec: a tensor name "must be at most 64 bytes long". llama.cpp needs < 64 (GGML_MAX_NAME
/// counts the NUL), so the writer accepts at most 63.
inline constexpr std::size_t kMaxTensorNameBytes = 64;
inline constexpr std::size_t kMaxWrittenTensorNameBytes = 63;
/// Nesting limit for arrays of arrays (the spec sets none; this bounds recursion).
inline constexpr int kMaxArrayDepth = 8;

/// `gguf_metadata_value_type` (uint32 on disk). The numbering is the spec's.
enum class ValueType : uint32_t {
  U8 = 0,
  I8 = 1,
  U16 = 2,
  I16 = 3,
  U32 = 4,
  I32 = 5,
  F32 = 6,
  BOOL = 7,
  STRING = 8,
  ARRAY = 9,
  U64 = 10,
  I64 = 11,
  F64 = 12,
};
inline constexpr uint32_t kValueTypeCount = 13;

/// Short name as llama.cpp prints it: "u8", "i32", "f32", "bool", "str", "arr", ...;
/// "invalid" for ids outside the enum.
std::string_view value_type_name(ValueType type) noexcept;

/// A GGUF array: element type plus elements. Arrays may nest (`std::vector<Array>`), each
/// inner array with its own element type. The variant's index is the element ValueType,
/// e.g. `Array{std::vector<float>{...}}` has element_type() == ValueType::F32.
/// Note: llama.cpp's gguf.cpp rejects arrays of arrays although the spec allows them.
struct Array {
  using Items = std::variant<std::vector<uint8_t>, std::vector<int8_t>, std::vector<uint16_t>,
                             std::vector<int16_t>, std::vector<uint32_t>, std::vector<int32_t>,
                             std::vector<float>, std::vector<bool>, std::vector<std::string>,
                             std::vector<Array>, std::vector<uint64_t>, std::vector<int64_t>,
                             std::vector<double>>;
  Items items;

  Array() = default;
  template <class T>
    requires std::is_constructible_v<Items, std::vector<T>>
  Array(std::vector<T> values) : items(std::move(values)) {}  // NOLINT: implicit on purpose

  ValueType element_type() const noexcept { return static_cast<ValueType>(items.index()); }
  std::size_t size() const noexcept;
  bool operator==(const Array& other) const;
};

/// One metadata value. The variant's index is the ValueType id (U8 = 0 ... F64 = 12).
using Value = std::variant<uint8_t, int8_t, uint16_t, int16_t, uint32_t, int32_t, float, bool,
                           std::string, Array, uint64_t, int64_t, double>;

inline ValueType type_of(const Value& v) noexcept { return static_cast<ValueType>(v.index()); }

/// "u32", "str", or for arrays "arr[f32]", "arr[arr[i32]]" (empty inner arrays: "arr[arr]").
std::string describe_type(const Value& v);

struct KeyValue {
  std::string key;
  Value value;
  bool operator==(const KeyValue&) const = default;
};

/// `gguf_tensor_info_t`. `dims` are in ggml order: dims[0] (ne[0]) varies fastest, so a
/// PyTorch weight of shape [out, in] has dims {in, out}. `offset` is relative to the start
/// of the (aligned) tensor data section, not to the file start.
struct TensorInfo {
  std::string name;
  std::vector<uint64_t> dims;
  GgmlType type = GgmlType::F32;
  uint64_t offset = 0;

  /// Product of dims (1 for no dims). Throws std::overflow_error past 2^63-1.
  uint64_t n_elements() const;
  /// Bytes of the tensor's data for its type (ggml_row_bytes). Throws std::invalid_argument
  /// for unsupported types or ne[0] not a multiple of the block size, std::overflow_error
  /// on overflow.
  uint64_t n_bytes() const;
  bool operator==(const TensorInfo&) const = default;
};

/// Name of a ggml type id ("Q8_0", "Q4_K", "IQ2_XS", ...), or "unknown".
std::string_view ggml_type_name(uint32_t id) noexcept;

/// Pads `offset` up to a multiple of `alignment` (spec `align_offset`). `alignment` > 0.
constexpr uint64_t align_offset(uint64_t offset, uint64_t alignment) noexcept {
  return offset + (alignment - (offset % alignment)) % alignment;
}

/// True when `a` is a valid `general.alignment`: a power of two (llama.cpp's check) that is
/// a multiple of 8 (the spec's requirement), i.e. one of 8, 16, 32, ...
constexpr bool is_valid_alignment(uint64_t a) noexcept { return a >= 8 && (a & (a - 1)) == 0; }

}  // namespace fedlora::lora::gguf
