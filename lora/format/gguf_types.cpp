#include "lora/format/gguf_types.h"

#include <limits>

namespace fedlora::lora::gguf {

std::string_view value_type_name(ValueType type) noexcept {
  switch (type) {
    case ValueType::U8: return "u8";
    case ValueType::I8: return "i8";
    case ValueType::U16: return "u16";
    case ValueType::I16: return "i16";
    case ValueType::U32: return "u32";
    case ValueType::I32: return "i32";
    case ValueType::F32: return "f32";
    case ValueType::BOOL: return "bool";
    case ValueType::STRING: return "str";
    case ValueType::ARRAY: return "arr";
    case ValueType::U64: return "u64";
    case ValueType::I64: return "i64";
    case ValueType::F64: return "f64";
  }
  return "invalid";
}

std::size_t Array::size() const noexcept {
  return std::visit([](const auto& v) { return v.size(); }, items);
}

bool Array::operator==(const Array& other) const { return items == other.items; }

namespace {

std::string describe_array(const Array& a) {
  if (a.element_type() != ValueType::ARRAY) return "arr[" + std::string(value_type_name(a.element_type())) + "]";
  const auto& inner = std::get<std::vector<Array>>(a.items);
  if (inner.empty()) return "arr[arr]";
  return "arr[" + describe_array(inner.front()) + "]";
}

}  // namespace

std::string describe_type(const Value& v) {
  if (const auto* a = std::get_if<Array>(&v)) return describe_array(*a);
  return std::string(value_type_name(type_of(v)));
}

uint64_t TensorInfo::n_elements() const {
  uint64_t n = 1;
  for (uint64_t d : dims) {
    if (d != 0 && n > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) / d) {
      throw std::overflow_error("tensor '" + name + "': element count overflows int64");
    }
    n *= d;
  }
  return n;
}

uint64_t TensorInfo::n_bytes() const {
  const auto traits = supported_type_traits(static_cast<uint32_t>(type));
  if (!traits) {
    throw std::invalid_argument("tensor '" + name + "': ggml type " + std::to_string(static_cast<uint32_t>(type)) +
                                " (" + std::string(ggml_type_name(static_cast<uint32_t>(type))) +
                                ") is not supported (F32, F16, Q4_0, Q8_0)");
  }
  if (!dims.empty() && dims[0] % traits->block_elems != 0) {
    throw std::invalid_argument("tensor '" + name + "': ne[0]=" + std::to_string(dims[0]) +
                                " is not a multiple of the " + std::string(traits->name) + " block size " +
                                std::to_string(traits->block_elems));
  }
  const auto bytes = ggml_row_bytes(type, n_elements());
  if (!bytes) throw std::overflow_error("tensor '" + name + "': byte size overflows uint64");
  return *bytes;
}

std::string_view ggml_type_name(uint32_t id) noexcept {
  // ggml `enum ggml_type` ids as listed in ggml docs/gguf.md (4 and 5 were removed).
  static constexpr std::string_view kNames[] = {
      "F32",     "F16",    "Q4_0",    "Q4_1",    "unknown", "unknown", "Q5_0",   "Q5_1",
      "Q8_0",    "Q8_1",   "Q2_K",    "Q3_K",    "Q4_K",    "Q5_K",    "Q6_K",   "Q8_K",
      "IQ2_XXS", "IQ2_XS", "IQ3_XXS", "IQ1_S",   "IQ4_NL",  "IQ3_S",   "IQ2_S",  "IQ4_XS",
      "I8",      "I16",    "I32",     "I64",     "F64",     "IQ1_M",   "BF16",
  };
  return id < std::size(kNames) ? kNames[id] : "unknown";
}

}  // namespace fedlora::lora::gguf
