#include "lora/format/gguf_writer.h"

#include <algorithm>
#include <limits>
#include <stdexcept>

#include "lora/format/atomic_file.h"
#include "lora/format/le_bytes.h"

namespace fedlora::lora::gguf {
namespace {

using detail::append_le;

bool is_spec_key(std::string_view key) {
  if (key.empty() || key.size() > kMaxKeyBytes) return false;
  bool segment_empty = true;
  for (char ch : key) {
    if (ch == '.') {
      if (segment_empty) return false;
      segment_empty = true;
    } else if ((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_') {
      segment_empty = false;
    } else {
      return false;
    }
  }
  return !segment_empty;
}

void append_string(std::vector<std::byte>& out, std::string_view s) {
  append_le<uint64_t>(out, s.size());
  const auto* p = reinterpret_cast<const std::byte*>(s.data());
  out.insert(out.end(), p, p + s.size());
}

void append_array(std::vector<std::byte>& out, const Array& a);

// One scalar, string or nested array, as the spec lays out a value of that type.
template <class T>
void append_element(std::vector<std::byte>& out, const T& x) {
  if constexpr (std::is_same_v<T, bool>) {
    out.push_back(std::byte{static_cast<uint8_t>(x ? 1 : 0)});
  } else if constexpr (std::is_same_v<T, std::string>) {
    append_string(out, x);
  } else if constexpr (std::is_same_v<T, Array>) {
    append_array(out, x);
  } else {
    append_le<T>(out, x);
  }
}

// Writes the payload of a value (its type id is written by the caller).
void append_payload(std::vector<std::byte>& out, const Value& v) {
  std::visit([&out](const auto& x) { append_element(out, x); }, v);
}

void append_array(std::vector<std::byte>& out, const Array& a) {
  append_le<uint32_t>(out, static_cast<uint32_t>(a.element_type()));
  append_le<uint64_t>(out, a.size());
  std::visit(
      [&out](const auto& items) {
        using T = typename std::decay_t<decltype(items)>::value_type;
        for (const auto& x : items) append_element<T>(out, x);
      },
      a.items);
}

int array_depth(const Array& a) {
  const auto* inner = std::get_if<std::vector<Array>>(&a.items);
  if (inner == nullptr) return 1;
  int deepest = 0;
  for (const Array& x : *inner) deepest = std::max(deepest, array_depth(x));
  return 1 + deepest;
}

uint64_t padded(uint64_t n, uint32_t alignment) { return align_offset(n, alignment); }

}  // namespace

void GgufWriter::set(std::string key, Value value) {
  if (!is_spec_key(key)) {
    throw std::invalid_argument("GGUF key '" + key.substr(0, 80) +
                                "' is not a valid key: use 1..65535 ASCII bytes, lower_snake_case segments "
                                "([a-z0-9_]+) separated by '.'");
  }
  if (key == kAlignmentKey) {
    const auto* a = std::get_if<uint32_t>(&value);
    if (a == nullptr) {
      throw std::invalid_argument("general.alignment must be a u32, got " + describe_type(value));
    }
    if (!is_valid_alignment(*a)) {
      throw std::invalid_argument("general.alignment " + std::to_string(*a) + " must be a power of two >= 8");
    }
  }
  if (const auto* a = std::get_if<Array>(&value); a != nullptr && array_depth(*a) > kMaxArrayDepth) {
    throw std::invalid_argument("GGUF key '" + key + "': arrays nested deeper than " + std::to_string(kMaxArrayDepth) +
                                " levels cannot be read back");
  }
  for (KeyValue& kv : kvs_) {
    if (kv.key == key) {
      kv.value = std::move(value);
      return;
    }
  }
  kvs_.push_back(KeyValue{std::move(key), std::move(value)});
}

uint32_t GgufWriter::alignment() const noexcept {
  for (const KeyValue& kv : kvs_) {
    if (kv.key == kAlignmentKey) return std::get<uint32_t>(kv.value);  // type checked in set()
  }
  return kDefaultAlignment;
}

void GgufWriter::check_tensor(const std::string& name, GgmlType type, const std::vector<uint64_t>& dims,
                              std::size_t n_bytes) const {
  const std::string where = "GGUF tensor '" + name.substr(0, 80) + "': ";
  if (name.empty() || name.size() > kMaxWrittenTensorNameBytes) {
    throw std::invalid_argument(where + "name must be 1.." + std::to_string(kMaxWrittenTensorNameBytes) + " bytes");
  }
  for (const PendingTensor& t : tensors_) {
    if (t.info.name == name) throw std::invalid_argument(where + "added twice");
  }
  const auto traits = supported_type_traits(static_cast<uint32_t>(type));
  if (!traits) {
    throw std::invalid_argument(where + "ggml type " + std::to_string(static_cast<uint32_t>(type)) + " (" +
                                std::string(ggml_type_name(static_cast<uint32_t>(type))) +
                                ") is not supported; use F32, F16, Q4_0 or Q8_0");
  }
  if (dims.empty() || dims.size() > kMaxDims) {
    throw std::invalid_argument(where + "needs 1..4 dims, got " + std::to_string(dims.size()));
  }
  if (std::any_of(dims.begin(), dims.end(), [](uint64_t d) { return d == 0; })) {
    throw std::invalid_argument(where + "has a zero dimension (llama.cpp divides by each dimension)");
  }
  TensorInfo probe{name, dims, type, 0};
  uint64_t expected = 0;
  try {
    expected = probe.n_bytes();
  } catch (const std::exception& e) {
    throw std::invalid_argument(std::string("GGUF ") + e.what());
  }
  if (n_bytes != expected) {
    throw std::invalid_argument(where + "has " + std::to_string(n_bytes) + " bytes, but " +
                                std::string(traits->name) + " with these dims needs " + std::to_string(expected));
  }
}

void GgufWriter::add_tensor(std::string name, GgmlType type, std::vector<uint64_t> dims,
                            std::span<const std::byte> bytes) {
  add_tensor(std::move(name), type, std::move(dims), std::vector<std::byte>(bytes.begin(), bytes.end()));
}

void GgufWriter::add_tensor(std::string name, GgmlType type, std::vector<uint64_t> dims,
                            std::vector<std::byte>&& bytes) {
  check_tensor(name, type, dims, bytes.size());
  tensors_.push_back(PendingTensor{TensorInfo{std::move(name), std::move(dims), type, 0}, std::move(bytes)});
}

std::vector<std::byte> GgufWriter::serialize_header() const {
  const uint32_t align = alignment();
  std::vector<std::byte> out;
  out.reserve(4096);  // also keeps GCC 12 from a false -Wstringop-overflow on tiny vectors
  const auto* magic = reinterpret_cast<const std::byte*>(kMagic);
  out.insert(out.end(), magic, magic + sizeof(kMagic));
  append_le<uint32_t>(out, kVersion);
  append_le<uint64_t>(out, tensors_.size());
  append_le<uint64_t>(out, kvs_.size());
  for (const KeyValue& kv : kvs_) {
    append_string(out, kv.key);
    append_le<uint32_t>(out, static_cast<uint32_t>(type_of(kv.value)));
    append_payload(out, kv.value);
  }
  uint64_t offset = 0;
  for (const PendingTensor& t : tensors_) {
    append_string(out, t.info.name);
    append_le<uint32_t>(out, static_cast<uint32_t>(t.info.dims.size()));
    for (uint64_t d : t.info.dims) append_le<uint64_t>(out, d);
    append_le<uint32_t>(out, static_cast<uint32_t>(t.info.type));
    append_le<uint64_t>(out, offset);
    offset += padded(t.bytes.size(), align);
  }
  out.resize(padded(out.size(), align), std::byte{0});
  return out;
}

std::vector<std::byte> GgufWriter::serialize() const {
  const uint32_t align = alignment();
  std::vector<std::byte> out = serialize_header();
  for (const PendingTensor& t : tensors_) {
    out.insert(out.end(), t.bytes.begin(), t.bytes.end());
    out.resize(padded(out.size(), align), std::byte{0});
  }
  return out;
}

void GgufWriter::write(const std::filesystem::path& path) const {
  const uint32_t align = alignment();
  AtomicFileWriter file(path);
  file.append(serialize_header());
  for (const PendingTensor& t : tensors_) {
    file.append(t.bytes);
    file.append_zeros(static_cast<std::size_t>(padded(t.bytes.size(), align) - t.bytes.size()));
  }
  file.commit();
}

}  // namespace fedlora::lora::gguf
