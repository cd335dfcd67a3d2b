#include "lora/format/gguf_reader.h"

#include <algorithm>
#include <cstring>
#include <functional>
#include <limits>
#include <utility>

#include "lora/format/le_bytes.h"
#include "lora/format/printable.h"

namespace fedlora::lora::gguf {

using detail::printable;

namespace {

constexpr uint64_t kInt64Max = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());

// Reserve at most this many elements up front: counts are only bounded by the file size,
// and a corrupt count must not turn into a large allocation before the reads fail.
constexpr uint64_t kMaxReserve = 1 << 16;
std::size_t reserve_hint(uint64_t n) { return static_cast<std::size_t>(std::min(n, kMaxReserve)); }

// Smallest encoding of one element of each value type, used to bound element counts by
// the bytes left before anything is allocated: a string is at least its u64 length, an
// array at least its u32 type and u64 length.
constexpr uint64_t min_encoded_size(ValueType t) {
  switch (t) {
    case ValueType::U8: case ValueType::I8: case ValueType::BOOL: return 1;
    case ValueType::U16: case ValueType::I16: return 2;
    case ValueType::U32: case ValueType::I32: case ValueType::F32: return 4;
    case ValueType::U64: case ValueType::I64: case ValueType::F64: return 8;
    case ValueType::STRING: return 8;
    case ValueType::ARRAY: return 12;
  }
  return 1;
}

// Bounds-checked little-endian reader over the file image. Every read names the field it
// reads so an error can say what was being read and where.
class Cursor {
 public:
  Cursor(std::span<const std::byte> buf, const std::string& source) : buf_(buf), source_(source) {}

  uint64_t pos() const noexcept { return pos_; }
  uint64_t remaining() const noexcept { return buf_.size() - pos_; }

  [[noreturn]] void fail_at(uint64_t at, std::string_view field, std::string_view what) const {
    throw FormatError("GGUF " + source_ + ": " + std::string(field) + " at byte offset " + std::to_string(at) + ": " +
                      std::string(what));
  }

  // `field` is a callable producing the field's name, so names are only built on failure.
  template <class Field>
  void need(uint64_t n, const Field& field) const {
    if (n > remaining()) {
      fail_at(pos_, field(),
              "needs " + std::to_string(n) + " bytes but the file has only " + std::to_string(remaining()) +
                  " left (file size " + std::to_string(buf_.size()) + "; truncated?)");
    }
  }

  template <detail::LeScalar T, class Field>
  T read(const Field& field) {
    need(sizeof(T), field);
    T v = detail::load_le<T>(buf_.data() + pos_);
    pos_ += sizeof(T);
    return v;
  }

  template <class Field>
  bool read_bool(const Field& field) {
    need(1, field);
    const auto b = static_cast<uint8_t>(buf_[pos_]);
    if (b > 1) fail_at(pos_, field(), "bool byte is " + std::to_string(b) + ", the spec allows only 0 or 1");
    ++pos_;
    return b == 1;
  }

  // gguf_string_t: u64 length, then that many bytes (not NUL-terminated).
  template <class Field>
  std::string read_string(const Field& field, uint64_t max_len) {
    const uint64_t at = pos_;
    const auto len = read<uint64_t>([&] { return field() + " length"; });
    if (len > max_len) {
      fail_at(at, field(), "length " + std::to_string(len) + " exceeds the limit of " + std::to_string(max_len) + " bytes");
    }
    need(len, [&] { return field() + " (" + std::to_string(len) + " bytes)"; });
    std::string s(reinterpret_cast<const char*>(buf_.data() + pos_), static_cast<std::size_t>(len));
    pos_ += len;
    return s;
  }

 private:
  std::span<const std::byte> buf_;
  const std::string& source_;
  uint64_t pos_ = 0;
};

template <class T, class Field>
std::vector<T> read_scalars(Cursor& c, uint64_t n, const Field& field) {
  std::vector<T> out;
  out.reserve(reserve_hint(n));
  for (uint64_t i = 0; i < n; ++i) {
    out.push_back(c.read<T>([&] { return field() + " element " + std::to_string(i); }));
  }
  return out;
}

template <class Field>
ValueType read_value_type(Cursor& c, const Field& field) {
  const uint64_t at = c.pos();
  const auto id = c.read<uint32_t>(field);
  if (id >= kValueTypeCount) {
    c.fail_at(at, field(), "value type id " + std::to_string(id) + " is not a GGUF metadata type (0..12)");
  }
  return static_cast<ValueType>(id);
}

// Type-erased field name: the array reader recurses, and a lambda-typed parameter would
// instantiate a new template per nesting level without end.
using FieldName = std::function<std::string()>;

Array read_array(Cursor& c, const FieldName& field, int depth) {
  const uint64_t at = c.pos();
  if (depth >= kMaxArrayDepth) {
    c.fail_at(at, field(), "arrays nested deeper than " + std::to_string(kMaxArrayDepth) + " levels");
  }
  const ValueType elem = read_value_type(c, [&] { return field() + " array element type"; });
  const uint64_t n_at = c.pos();
  const auto n = c.read<uint64_t>([&] { return field() + " array length"; });
  const uint64_t min_bytes = min_encoded_size(elem);
  if (n > c.remaining() / min_bytes) {
    c.fail_at(n_at, field() + " array length",
              std::to_string(n) + " elements of type " + std::string(value_type_name(elem)) +
                  " cannot fit in the " + std::to_string(c.remaining()) + " bytes left");
  }
  Array a;
  switch (elem) {
    case ValueType::U8: a.items = read_scalars<uint8_t>(c, n, field); break;
    case ValueType::I8: a.items = read_scalars<int8_t>(c, n, field); break;
    case ValueType::U16: a.items = read_scalars<uint16_t>(c, n, field); break;
    case ValueType::I16: a.items = read_scalars<int16_t>(c, n, field); break;
    case ValueType::U32: a.items = read_scalars<uint32_t>(c, n, field); break;
    case ValueType::I32: a.items = read_scalars<int32_t>(c, n, field); break;
    case ValueType::F32: a.items = read_scalars<float>(c, n, field); break;
    case ValueType::U64: a.items = read_scalars<uint64_t>(c, n, field); break;
    case ValueType::I64: a.items = read_scalars<int64_t>(c, n, field); break;
    case ValueType::F64: a.items = read_scalars<double>(c, n, field); break;
    case ValueType::BOOL: {
      std::vector<bool> v;
      v.reserve(reserve_hint(n));
      for (uint64_t i = 0; i < n; ++i) v.push_back(c.read_bool([&] { return field() + " element " + std::to_string(i); }));
      a.items = std::move(v);
      break;
    }
    case ValueType::STRING: {
      std::vector<std::string> v;
      v.reserve(reserve_hint(n));
      for (uint64_t i = 0; i < n; ++i) {
        v.push_back(c.read_string([&] { return field() + " element " + std::to_string(i); }, kInt64Max));
      }
      a.items = std::move(v);
      break;
    }
    case ValueType::ARRAY: {
      std::vector<Array> v;
      v.reserve(reserve_hint(n));
      for (uint64_t i = 0; i < n; ++i) {
        v.push_back(read_array(c, FieldName([&field, i] { return field() + " element " + std::to_string(i); }), depth + 1));
      }
      a.items = std::move(v);
      break;
    }
  }
  return a;
}

Value read_value(Cursor& c, ValueType type, const FieldName& field, int depth) {
  switch (type) {
    case ValueType::U8: return c.read<uint8_t>(field);
    case ValueType::I8: return c.read<int8_t>(field);
    case ValueType::U16: return c.read<uint16_t>(field);
    case ValueType::I16: return c.read<int16_t>(field);
    case ValueType::U32: return c.read<uint32_t>(field);
    case ValueType::I32: return c.read<int32_t>(field);
    case ValueType::F32: return c.read<float>(field);
    case ValueType::BOOL: return c.read_bool(field);
    case ValueType::STRING: return c.read_string(field, kInt64Max);
    case ValueType::ARRAY: return read_array(c, field, depth);
    case ValueType::U64: return c.read<uint64_t>(field);
    case ValueType::I64: return c.read<int64_t>(field);
    case ValueType::F64: return c.read<double>(field);
  }
  return uint8_t{0};  // unreachable: read_value_type validated the id
}

constexpr uint32_t byteswap32(uint32_t v) { return detail::byteswap_unsigned(v); }


}  // namespace

GgufFile::GgufFile(ReadOnlyBytes bytes, std::string source) : bytes_(std::move(bytes)), source_(std::move(source)) {}

GgufFile GgufFile::open(const std::filesystem::path& path) {
  GgufFile f(ReadOnlyBytes::map_file(path), path.string());
  f.parse();
  return f;
}

GgufFile GgufFile::from_bytes(std::vector<std::byte> bytes, std::string source) {
  GgufFile f(ReadOnlyBytes::own(std::move(bytes)), std::move(source));
  f.parse();
  return f;
}

void GgufFile::parse() {
  const std::span<const std::byte> buf = bytes_.bytes();
  Cursor c(buf, source_);
  auto name = [](const char* s) { return [s] { return std::string(s); }; };

  // --- header ---
  c.need(4, name("magic"));
  if (std::memcmp(buf.data(), kMagic, 4) != 0) {
    c.fail_at(0, "magic", "expected the bytes \"GGUF\" (47 47 55 46), found " + printable(std::string_view(
                                                                                  reinterpret_cast<const char*>(buf.data()), 4)) +
                              "; this is not a GGUF file");
  }
  c.read<uint32_t>(name("magic"));
  version_ = c.read<uint32_t>(name("version"));
  if (version_ == 1) {
    c.fail_at(4, "version", "GGUF version 1 (32-bit counts and lengths) is not supported; convert the model again "
                            "with a current llama.cpp (convert_hf_to_gguf.py) to get version 3");
  }
  if (version_ != 2 && version_ != kVersion) {
    const uint32_t swapped = byteswap32(version_);
    if (swapped >= 1 && swapped <= kVersion) {
      c.fail_at(4, "version", "the version reads as " + std::to_string(swapped) +
                                  " in big-endian byte order: big-endian GGUF files are not supported");
    }
    c.fail_at(4, "version", "GGUF version " + std::to_string(version_) + " is not supported (this reader reads version 3)");
  }
  const uint64_t n_tensors_at = c.pos();
  const auto n_tensors = c.read<uint64_t>(name("tensor_count"));
  const uint64_t n_kv_at = c.pos();
  const auto n_kv = c.read<uint64_t>(name("metadata_kv_count"));
  // Each key/value needs >= 13 bytes (u64 key length, u32 type, 1 value byte); each tensor
  // info >= 24 (u64 name length, u32 n_dims, u32 type, u64 offset).
  if (n_kv > c.remaining() / 13) {
    c.fail_at(n_kv_at, "metadata_kv_count",
              std::to_string(n_kv) + " key/value pairs cannot fit in the " + std::to_string(c.remaining()) + " bytes left");
  }
  if (n_tensors > c.remaining() / 24) {
    c.fail_at(n_tensors_at, "tensor_count",
              std::to_string(n_tensors) + " tensor infos cannot fit in the " + std::to_string(c.remaining()) + " bytes left");
  }

  // --- metadata ---
  metadata_.reserve(reserve_hint(n_kv));
  for (uint64_t i = 0; i < n_kv; ++i) {
    const uint64_t key_at = c.pos();
    auto key_field = [i] { return "metadata[" + std::to_string(i) + "] key"; };
    std::string key = c.read_string(key_field, kMaxKeyBytes);
    if (key.empty()) c.fail_at(key_at, key_field(), "empty key");
    if (std::any_of(key.begin(), key.end(), [](char ch) { return static_cast<unsigned char>(ch) >= 0x80; })) {
      c.fail_at(key_at, key_field(), "key " + printable(key) + " is not ASCII");
    }
    if (key_index_.count(key) != 0) {
      c.fail_at(key_at, key_field(), "duplicate key " + printable(key) + " (first at metadata[" +
                                          std::to_string(key_index_.find(key)->second) + "])");
    }
    const FieldName value_field = [&key] { return "metadata " + printable(key) + " value"; };
    const ValueType type = read_value_type(c, [&] { return "metadata " + printable(key) + " value type"; });
    Value value = read_value(c, type, value_field, 0);
    key_index_.emplace(key, metadata_.size());
    metadata_.push_back(KeyValue{std::move(key), std::move(value)});
  }

  if (const Value* a = find(kAlignmentKey)) {
    const auto* v = std::get_if<uint32_t>(a);
    if (v == nullptr) {
      throw FormatError("GGUF " + source_ + ": metadata 'general.alignment' has type " + describe_type(*a) +
                        ", the spec requires u32");
    }
    if (!is_valid_alignment(*v)) {
      throw FormatError("GGUF " + source_ + ": general.alignment is " + std::to_string(*v) +
                        ", it must be a power of two and a multiple of 8");
    }
    alignment_ = *v;
  }

  // --- tensor infos ---
  tensors_.reserve(reserve_hint(n_tensors));
  for (uint64_t i = 0; i < n_tensors; ++i) {
    const std::string idx = "tensor_info[" + std::to_string(i) + "]";
    const uint64_t name_at = c.pos();
    TensorInfo t;
    t.name = c.read_string([&] { return idx + " name"; }, kMaxTensorNameBytes);
    if (auto it = tensor_index_.find(t.name); it != tensor_index_.end()) {
      c.fail_at(name_at, idx + " name",
                "duplicate tensor name " + printable(t.name) + " (first at tensor_info[" + std::to_string(it->second) + "])");
    }
    const std::string where = idx + " " + printable(t.name);
    const uint64_t ndims_at = c.pos();
    const auto n_dims = c.read<uint32_t>([&] { return where + " n_dimensions"; });
    if (n_dims > kMaxDims) {
      c.fail_at(ndims_at, where + " n_dimensions", std::to_string(n_dims) + " dimensions; at most 4 are allowed");
    }
    t.dims.resize(n_dims);
    uint64_t n_elements = 1;
    for (uint32_t d = 0; d < n_dims; ++d) {
      const uint64_t dim_at = c.pos();
      auto dim_field = [&] { return where + " dims[" + std::to_string(d) + "]"; };
      t.dims[d] = c.read<uint64_t>(dim_field);
      if (t.dims[d] > kInt64Max) c.fail_at(dim_at, dim_field(), std::to_string(t.dims[d]) + " exceeds 2^63-1");
      if (t.dims[d] != 0 && n_elements > kInt64Max / t.dims[d]) {
        c.fail_at(dim_at, dim_field(), "the element count overflows 2^63-1");
      }
      n_elements *= t.dims[d];
    }
    const uint64_t type_at = c.pos();
    const auto type_id = c.read<uint32_t>([&] { return where + " type"; });
    const auto traits = supported_type_traits(type_id);
    if (!traits) {
      throw UnsupportedTypeError("GGUF " + source_ + ": tensor " + printable(t.name) + " (" + idx + ", type at byte offset " +
                                 std::to_string(type_at) + ") has ggml type id " + std::to_string(type_id) + " (" +
                                 std::string(ggml_type_name(type_id)) +
                                 "); fedlora reads only F32, F16, Q4_0 and Q8_0 (requantize the model, e.g. with "
                                 "llama.cpp's llama-quantize to Q8_0 or Q4_0)");
    }
    t.type = static_cast<GgmlType>(type_id);
    const uint64_t ne0 = n_dims > 0 ? t.dims[0] : 1;
    if (ne0 % traits->block_elems != 0) {
      c.fail_at(ndims_at + 4, where + " dims[0]",
                "ne[0]=" + std::to_string(ne0) + " is not a multiple of the " + std::string(traits->name) +
                    " block size " + std::to_string(traits->block_elems));
    }
    const uint64_t offset_at = c.pos();
    t.offset = c.read<uint64_t>([&] { return where + " offset"; });
    if (t.offset % alignment_ != 0) {
      c.fail_at(offset_at, where + " offset",
                "offset " + std::to_string(t.offset) + " is not a multiple of the alignment " + std::to_string(alignment_));
    }
    if (!ggml_row_bytes(t.type, n_elements)) {
      c.fail_at(ndims_at, where + " dims", "the tensor's byte size overflows");
    }
    tensor_index_.emplace(t.name, tensors_.size());
    tensors_.push_back(std::move(t));
  }

  // --- data section: starts at the next multiple of the alignment ---
  const uint64_t infos_end = c.pos();
  data_offset_ = align_offset(infos_end, alignment_);
  if (data_offset_ > buf.size()) {
    c.fail_at(infos_end, "padding before tensor data",
              "the file ends at byte " + std::to_string(buf.size()) + " but the aligned data section starts at " +
                  std::to_string(data_offset_));
  }
  const uint64_t data_size = buf.size() - data_offset_;
  std::vector<std::pair<uint64_t, uint64_t>> ranges;  // (begin, end) of non-empty tensors
  ranges.reserve(tensors_.size());
  for (const TensorInfo& t : tensors_) {
    const uint64_t n_bytes = t.n_bytes();
    if (t.offset > data_size || n_bytes > data_size - t.offset) {
      throw FormatError("GGUF " + source_ + ": tensor " + printable(t.name) + " data [" + std::to_string(t.offset) + ", +" +
                        std::to_string(n_bytes) + ") lies outside the " + std::to_string(data_size) +
                        "-byte data section starting at byte offset " + std::to_string(data_offset_) +
                        " (file truncated or offset corrupt)");
    }
    if (n_bytes > 0) ranges.emplace_back(t.offset, t.offset + n_bytes);
  }
  std::sort(ranges.begin(), ranges.end());
  for (std::size_t i = 1; i < ranges.size(); ++i) {
    if (ranges[i].first < ranges[i - 1].second) {
      const auto owner = [&](uint64_t begin) {
        for (const TensorInfo& t : tensors_) {
          if (t.offset == begin && t.n_bytes() > 0) return printable(t.name);
        }
        return std::string("?");
      };
      throw FormatError("GGUF " + source_ + ": tensor " + owner(ranges[i].first) + " data at data offset " +
                        std::to_string(ranges[i].first) + " overlaps tensor " + owner(ranges[i - 1].first) +
                        " which ends at " + std::to_string(ranges[i - 1].second));
    }
  }
}

const TensorInfo* GgufFile::find_tensor(std::string_view name) const {
  auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

std::span<const std::byte> GgufFile::tensor_bytes(const TensorInfo& info) const {
  const std::span<const std::byte> buf = bytes_.bytes();
  const uint64_t data_size = buf.size() - data_offset_;
  uint64_t n_bytes = 0;
  try {
    n_bytes = info.n_bytes();
  } catch (const std::exception& e) {
    throw std::out_of_range("GGUF " + source_ + ": " + e.what());
  }
  if (info.offset > data_size || n_bytes > data_size - info.offset) {
    throw std::out_of_range("GGUF " + source_ + ": tensor " + printable(info.name) +
                            " does not describe a range inside this file's data section");
  }
  return buf.subspan(static_cast<std::size_t>(data_offset_ + info.offset), static_cast<std::size_t>(n_bytes));
}

std::span<const std::byte> GgufFile::tensor_bytes(std::string_view name) const {
  const TensorInfo* info = find_tensor(name);
  if (info == nullptr) throw std::out_of_range("GGUF " + source_ + ": no tensor named " + printable(name));
  return tensor_bytes(*info);
}

}  // namespace fedlora::lora::gguf
