// Typed metadata lookups of GgufFile (declared in gguf_reader.h).
#include <optional>

#include "lora/format/gguf_reader.h"
#include "lora/format/printable.h"

namespace fedlora::lora::gguf {

using detail::printable;

const Value* GgufFile::find(std::string_view key) const {
  auto it = key_index_.find(key);
  return it == key_index_.end() ? nullptr : &metadata_[it->second].value;
}

void GgufFile::throw_missing(std::string_view key, std::string_view expected) const {
  throw FormatError("GGUF " + source_ + ": metadata key " + printable(key) + " is missing (expected type " +
                    std::string(expected) + ")");
}

void GgufFile::throw_mismatch(std::string_view key, const Value& v, std::string_view expected) const {
  throw FormatError("GGUF " + source_ + ": metadata key " + printable(key) + " has type " + describe_type(v) +
                    ", expected " + std::string(expected));
}

template <class T>
const T* GgufFile::find_typed(std::string_view key, std::string_view expected) const {
  const Value* v = find(key);
  if (v == nullptr) return nullptr;
  const T* typed = std::get_if<T>(v);
  if (typed == nullptr) throw_mismatch(key, *v, expected);
  return typed;
}

template <class T>
const T& GgufFile::get_typed(std::string_view key, std::string_view expected) const {
  const T* typed = find_typed<T>(key, expected);
  if (typed == nullptr) throw_missing(key, expected);
  return *typed;
}

template <class T>
const std::vector<T>* GgufFile::find_array_of(std::string_view key, std::string_view expected) const {
  const Value* v = find(key);
  if (v == nullptr) return nullptr;
  const auto* a = std::get_if<Array>(v);
  const auto* items = a ? std::get_if<std::vector<T>>(&a->items) : nullptr;
  if (items == nullptr) throw_mismatch(key, *v, expected);
  return items;
}

template <class T>
const std::vector<T>& GgufFile::get_array_of(std::string_view key, std::string_view expected) const {
  const auto* items = find_array_of<T>(key, expected);
  if (items == nullptr) throw_missing(key, expected);
  return *items;
}

uint8_t GgufFile::get_u8(std::string_view key) const { return get_typed<uint8_t>(key, "u8"); }
int8_t GgufFile::get_i8(std::string_view key) const { return get_typed<int8_t>(key, "i8"); }
uint16_t GgufFile::get_u16(std::string_view key) const { return get_typed<uint16_t>(key, "u16"); }
int16_t GgufFile::get_i16(std::string_view key) const { return get_typed<int16_t>(key, "i16"); }
uint32_t GgufFile::get_u32(std::string_view key) const { return get_typed<uint32_t>(key, "u32"); }
int32_t GgufFile::get_i32(std::string_view key) const { return get_typed<int32_t>(key, "i32"); }
uint64_t GgufFile::get_u64(std::string_view key) const { return get_typed<uint64_t>(key, "u64"); }
int64_t GgufFile::get_i64(std::string_view key) const { return get_typed<int64_t>(key, "i64"); }
float GgufFile::get_f32(std::string_view key) const { return get_typed<float>(key, "f32"); }
double GgufFile::get_f64(std::string_view key) const { return get_typed<double>(key, "f64"); }
bool GgufFile::get_bool(std::string_view key) const { return get_typed<bool>(key, "bool"); }
const std::string& GgufFile::get_string(std::string_view key) const { return get_typed<std::string>(key, "str"); }
const Array& GgufFile::get_array(std::string_view key) const { return get_typed<Array>(key, "arr"); }
const std::vector<std::string>& GgufFile::get_string_array(std::string_view key) const {
  return get_array_of<std::string>(key, "arr[str]");
}
const std::vector<float>& GgufFile::get_f32_array(std::string_view key) const {
  return get_array_of<float>(key, "arr[f32]");
}
const std::vector<int32_t>& GgufFile::get_i32_array(std::string_view key) const {
  return get_array_of<int32_t>(key, "arr[i32]");
}

std::optional<uint64_t> GgufFile::find_uint(std::string_view key) const {
  const Value* v = find(key);
  if (v == nullptr) return std::nullopt;
  if (const auto* x = std::get_if<uint8_t>(v)) return *x;
  if (const auto* x = std::get_if<uint16_t>(v)) return *x;
  if (const auto* x = std::get_if<uint32_t>(v)) return *x;
  if (const auto* x = std::get_if<uint64_t>(v)) return *x;
  throw_mismatch(key, *v, "an unsigned integer (u8/u16/u32/u64)");
}

uint64_t GgufFile::get_uint(std::string_view key) const {
  auto v = find_uint(key);
  if (!v) throw_missing(key, "an unsigned integer (u8/u16/u32/u64)");
  return *v;
}

namespace {
template <class T>
std::optional<T> opt(const T* p) {
  return p ? std::optional<T>(*p) : std::nullopt;
}
}  // namespace

std::optional<uint32_t> GgufFile::find_u32(std::string_view key) const { return opt(find_typed<uint32_t>(key, "u32")); }
std::optional<int32_t> GgufFile::find_i32(std::string_view key) const { return opt(find_typed<int32_t>(key, "i32")); }
std::optional<uint64_t> GgufFile::find_u64(std::string_view key) const { return opt(find_typed<uint64_t>(key, "u64")); }
std::optional<float> GgufFile::find_f32(std::string_view key) const { return opt(find_typed<float>(key, "f32")); }
std::optional<bool> GgufFile::find_bool(std::string_view key) const { return opt(find_typed<bool>(key, "bool")); }
std::optional<std::string> GgufFile::find_string(std::string_view key) const {
  return opt(find_typed<std::string>(key, "str"));
}
std::optional<std::vector<std::string>> GgufFile::find_string_array(std::string_view key) const {
  return opt(find_array_of<std::string>(key, "arr[str]"));
}
std::optional<std::vector<float>> GgufFile::find_f32_array(std::string_view key) const {
  return opt(find_array_of<float>(key, "arr[f32]"));
}
std::optional<std::vector<int32_t>> GgufFile::find_i32_array(std::string_view key) const {
  return opt(find_array_of<int32_t>(key, "arr[i32]"));
}

}  // namespace fedlora::lora::gguf
