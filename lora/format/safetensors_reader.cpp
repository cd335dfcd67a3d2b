#include <algorithm>
#include <limits>
#include <set>
#include <tuple>
#include <utility>

#include <nlohmann/json.hpp>

#include "lora/format/le_bytes.h"
#include "lora/format/printable.h"
#include "lora/format/safetensors.h"

namespace fedlora::lora::safetensors {
namespace {

using json = nlohmann::json;

// Root object -> tensor entry object -> shape/data_offsets array: nothing valid nests deeper.
constexpr int kMaxJsonDepth = 3;

struct DtypeEntry {
  Dtype dtype;
  std::string_view name;
  std::size_t size;
};
constexpr DtypeEntry kDtypes[] = {
    {Dtype::BOOL, "BOOL", 1}, {Dtype::U8, "U8", 1},   {Dtype::I8, "I8", 1},   {Dtype::F8_E5M2, "F8_E5M2", 1},
    {Dtype::F8_E4M3, "F8_E4M3", 1}, {Dtype::I16, "I16", 2}, {Dtype::U16, "U16", 2}, {Dtype::F16, "F16", 2},
    {Dtype::BF16, "BF16", 2}, {Dtype::I32, "I32", 4}, {Dtype::U32, "U32", 4}, {Dtype::F32, "F32", 4},
    {Dtype::F64, "F64", 8},   {Dtype::I64, "I64", 8}, {Dtype::U64, "U64", 8},
};

// Tensor names are UTF-8 the JSON parser has validated; show them as they are.
std::string printable(std::string_view s) { return detail::printable(s, /*allow_utf8=*/true); }

[[noreturn]] void fail(const std::string& source, const std::string& what) {
  throw FormatError("safetensors " + source + ": " + what);
}

std::vector<uint64_t> read_uint_array(const json& v, const std::string& what, const std::string& where,
                                      const std::string& source) {
  if (!v.is_array()) fail(source, where + " " + what + " must be an array of unsigned integers, got " + v.type_name());
  std::vector<uint64_t> out;
  out.reserve(v.size());
  for (const json& x : v) {
    if (!x.is_number_unsigned()) {
      fail(source, where + " " + what + " holds " + x.dump() + ", expected an unsigned integer");
    }
    out.push_back(x.get<uint64_t>());
  }
  return out;
}

}  // namespace

std::string_view dtype_name(Dtype d) noexcept {
  for (const DtypeEntry& e : kDtypes) {
    if (e.dtype == d) return e.name;
  }
  return "?";
}

std::optional<Dtype> parse_dtype(std::string_view name) noexcept {
  for (const DtypeEntry& e : kDtypes) {
    if (e.name == name) return e.dtype;
  }
  return std::nullopt;
}

std::size_t dtype_size(Dtype d) noexcept {
  for (const DtypeEntry& e : kDtypes) {
    if (e.dtype == d) return e.size;
  }
  return 1;
}

uint64_t TensorInfo::n_elements() const {
  uint64_t n = 1;
  for (uint64_t d : shape) {
    if (d != 0 && n > std::numeric_limits<uint64_t>::max() / d) {
      throw std::overflow_error("tensor '" + name + "': element count overflows uint64");
    }
    n *= d;
  }
  return n;
}

SafetensorsFile SafetensorsFile::open(const std::filesystem::path& path) {
  SafetensorsFile f(ReadOnlyBytes::map_file(path), path.string());
  f.parse();
  return f;
}

SafetensorsFile SafetensorsFile::from_bytes(std::vector<std::byte> bytes, std::string source) {
  SafetensorsFile f(ReadOnlyBytes::own(std::move(bytes)), std::move(source));
  f.parse();
  return f;
}

void SafetensorsFile::parse() {
  const std::span<const std::byte> buf = bytes_.bytes();
  if (buf.size() < 8) {
    fail(source_, "header size at byte offset 0: the file has " + std::to_string(buf.size()) +
         " bytes, fewer than the 8-byte header size field (truncated?)");
  }
  header_size_ = detail::load_le<uint64_t>(buf.data());
  if (header_size_ > kMaxHeaderBytes) {
    fail(source_, "header size at byte offset 0 is " + std::to_string(header_size_) + " bytes, over the 100 MB limit");
  }
  if (header_size_ > buf.size() - 8) {
    fail(source_, "header size at byte offset 0 is " + std::to_string(header_size_) + " bytes but only " +
         std::to_string(buf.size() - 8) + " bytes follow (truncated?)");
  }
  if (header_size_ == 0 || buf[8] != std::byte{'{'}) {
    fail(source_, "header at byte offset 8 must start with '{'");
  }
  const auto* header_begin = reinterpret_cast<const char*>(buf.data() + 8);
  const std::string_view header_text(header_begin, static_cast<std::size_t>(header_size_));
  // JSON text never holds a raw NUL, but nlohmann's lexer stops at one as if the input had
  // ended, which would let bytes after it through unchecked.
  if (const auto nul = header_text.find('\0'); nul != std::string_view::npos) {
    fail(source_, "header JSON has a NUL byte at byte offset " + std::to_string(8 + nul));
  }

  // Parse with a callback that rejects duplicate keys (nlohmann keeps the last silently)
  // and nesting deeper than any valid header needs.
  std::vector<std::set<std::string>> open_objects;
  const json::parser_callback_t check = [&](int depth, json::parse_event_t event, json& parsed) {
    switch (event) {
      case json::parse_event_t::object_start:
      case json::parse_event_t::array_start:
        if (depth >= kMaxJsonDepth) fail(source_, "header JSON nests deeper than a safetensors header can");
        if (event == json::parse_event_t::object_start) open_objects.emplace_back();
        break;
      case json::parse_event_t::object_end:
        open_objects.pop_back();
        break;
      case json::parse_event_t::key: {
        const std::string& key = parsed.get_ref<const std::string&>();
        if (!open_objects.back().insert(key).second) fail(source_, "header JSON has the key " + printable(key) + " twice");
        break;
      }
      default:
        break;
    }
    return true;
  };
  json header;
  try {
    header = json::parse(header_text.begin(), header_text.end(), check);
  } catch (const json::exception& e) {
    fail(source_, "header JSON (byte offsets 8.." + std::to_string(8 + header_size_) + ") is invalid: " + e.what());
  }
  if (!header.is_object()) fail(source_, "header JSON must be an object");

  const uint64_t data_size = buf.size() - data_offset();
  for (auto it = header.begin(); it != header.end(); ++it) {
    const std::string& name = it.key();
    const json& entry = it.value();
    if (name == kMetadataKey) {
      if (entry.is_null()) continue;
      if (!entry.is_object()) fail(source_, "__metadata__ must be an object of strings, got " + std::string(entry.type_name()));
      for (auto m = entry.begin(); m != entry.end(); ++m) {
        if (!m.value().is_string()) {
          fail(source_, "__metadata__ value of " + printable(m.key()) + " must be a string, got " + m.value().type_name());
        }
        metadata_.emplace(m.key(), m.value().get<std::string>());
      }
      continue;
    }
    const std::string where = "tensor " + printable(name);
    if (!entry.is_object()) fail(source_, where + " entry must be an object, got " + entry.type_name());
    const auto dtype_it = entry.find("dtype");
    const auto shape_it = entry.find("shape");
    const auto offsets_it = entry.find("data_offsets");
    if (dtype_it == entry.end() || shape_it == entry.end() || offsets_it == entry.end()) {
      fail(source_, where + " entry needs the fields dtype, shape and data_offsets");
    }
    if (!dtype_it->is_string()) fail(source_, where + " dtype must be a string, got " + dtype_it->type_name());
    const auto dtype = parse_dtype(dtype_it->get_ref<const std::string&>());
    if (!dtype) fail(source_, where + " has unknown dtype " + printable(dtype_it->get_ref<const std::string&>()));

    TensorInfo t;
    t.name = name;
    t.dtype = *dtype;
    t.shape = read_uint_array(*shape_it, "shape", where, source_);
    const std::vector<uint64_t> offsets = read_uint_array(*offsets_it, "data_offsets", where, source_);
    if (offsets.size() != 2) fail(source_, where + " data_offsets must hold exactly [begin, end]");
    t.begin = offsets[0];
    t.end = offsets[1];
    if (t.end < t.begin) {
      fail(source_, where + " data_offsets [" + std::to_string(t.begin) + ", " + std::to_string(t.end) + "] end before they begin");
    }
    if (t.end > data_size) {
      fail(source_, where + " data_offsets [" + std::to_string(t.begin) + ", " + std::to_string(t.end) +
           "] run past the data buffer of " + std::to_string(data_size) + " bytes (file size " +
           std::to_string(buf.size()) + "; truncated?)");
    }
    uint64_t n_elements = 0;
    try {
      n_elements = t.n_elements();
    } catch (const std::overflow_error&) {
      fail(source_, where + " shape's element count overflows");
    }
    const uint64_t elem = dtype_size(t.dtype);
    if (n_elements > std::numeric_limits<uint64_t>::max() / elem) fail(source_, where + " byte size overflows");
    if (n_elements * elem != t.n_bytes()) {
      fail(source_, where + " has " + std::to_string(n_elements) + " " + std::string(dtype_name(t.dtype)) + " elements (" +
           std::to_string(n_elements * elem) + " bytes) but data_offsets span " + std::to_string(t.n_bytes()) + " bytes");
    }
    tensors_.push_back(std::move(t));
  }

  // The tensors must tile the data buffer: no overlap, no hole, nothing after the last.
  std::sort(tensors_.begin(), tensors_.end(), [](const TensorInfo& a, const TensorInfo& b) {
    return std::tie(a.begin, a.end, a.name) < std::tie(b.begin, b.end, b.name);
  });
  uint64_t covered = 0;
  for (const TensorInfo& t : tensors_) {
    if (t.begin != covered) {
      fail(source_, "tensor " + printable(t.name) + " data_offsets begin at " + std::to_string(t.begin) + " but the data before it " +
           (t.begin < covered ? "already extends to " : "ends at ") + std::to_string(covered) +
           (t.begin < covered ? " (overlap)" : " (hole)"));
    }
    covered = t.end;
  }
  if (covered != data_size) {
    fail(source_, "tensors cover " + std::to_string(covered) + " bytes of the " + std::to_string(data_size) +
         "-byte data buffer; the spec requires it to be fully covered");
  }
  for (std::size_t i = 0; i < tensors_.size(); ++i) index_.emplace(tensors_[i].name, i);
}

const TensorInfo* SafetensorsFile::find(std::string_view name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &tensors_[it->second];
}

std::span<const std::byte> SafetensorsFile::tensor_bytes(const TensorInfo& info) const {
  const std::span<const std::byte> buf = bytes_.bytes();
  const uint64_t data_size = buf.size() - data_offset();
  if (info.end < info.begin || info.end > data_size) {
    throw std::out_of_range("safetensors " + source_ + ": tensor " + printable(info.name) +
                            " does not describe a range inside this file's data buffer");
  }
  return buf.subspan(static_cast<std::size_t>(data_offset() + info.begin), static_cast<std::size_t>(info.n_bytes()));
}

std::span<const std::byte> SafetensorsFile::tensor_bytes(std::string_view name) const {
  const TensorInfo* info = find(name);
  if (info == nullptr) throw std::out_of_range("safetensors " + source_ + ": no tensor named " + printable(name));
  return tensor_bytes(*info);
}

}  // namespace fedlora::lora::safetensors
