#include <algorithm>
#include <numeric>
#include <stdexcept>
#include <tuple>

#include <nlohmann/json.hpp>

#include "lora/format/atomic_file.h"
#include "lora/format/le_bytes.h"
#include "lora/format/safetensors.h"

namespace fedlora::lora::safetensors {
namespace {

using ordered_json = nlohmann::ordered_json;

// nlohmann's dump() validates UTF-8 and throws type_error 316 otherwise.
void require_utf8(const std::string& s, const std::string& what) {
  try {
    (void)ordered_json(s).dump();
  } catch (const nlohmann::json::exception&) {
    throw std::invalid_argument("safetensors " + what + " is not valid UTF-8");
  }
}

}  // namespace

void SafetensorsWriter::add_tensor(std::string name, Dtype dtype, std::vector<uint64_t> shape,
                                   std::span<const std::byte> bytes) {
  add_tensor(std::move(name), dtype, std::move(shape), std::vector<std::byte>(bytes.begin(), bytes.end()));
}

void SafetensorsWriter::add_tensor(std::string name, Dtype dtype, std::vector<uint64_t> shape,
                                   std::vector<std::byte>&& bytes) {
  const std::string where = "safetensors tensor '" + name.substr(0, 80) + "': ";
  if (name == kMetadataKey) throw std::invalid_argument(where + "the name is reserved for the metadata map");
  require_utf8(name, "tensor name");
  for (const Pending& t : tensors_) {
    if (t.name == name) throw std::invalid_argument(where + "added twice");
  }
  TensorInfo probe{name, dtype, shape, 0, 0};
  uint64_t n_elements = 0;
  try {
    n_elements = probe.n_elements();
  } catch (const std::overflow_error& e) {
    throw std::invalid_argument(where + "element count overflows");
  }
  const uint64_t elem = dtype_size(dtype);
  if (n_elements > UINT64_MAX / elem || n_elements * elem != bytes.size()) {
    throw std::invalid_argument(where + "has " + std::to_string(bytes.size()) + " bytes, but " +
                                std::to_string(n_elements) + " " + std::string(dtype_name(dtype)) + " elements need " +
                                std::to_string(n_elements * elem));
  }
  tensors_.push_back(Pending{std::move(name), dtype, std::move(shape), std::move(bytes)});
}

void SafetensorsWriter::set_metadata(std::string key, std::string value) {
  require_utf8(key, "metadata key");
  require_utf8(value, "metadata value");
  metadata_[std::move(key)] = std::move(value);
}

std::vector<std::byte> SafetensorsWriter::serialize_header(std::vector<std::size_t>& order) const {
  // Reference order: descending dtype (largest alignment first), then name.
  order.resize(tensors_.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::sort(order.begin(), order.end(), [this](std::size_t a, std::size_t b) {
    const Pending& x = tensors_[a];
    const Pending& y = tensors_[b];
    return std::tie(y.dtype, x.name) < std::tie(x.dtype, y.name);
  });

  ordered_json header = ordered_json::object();
  if (!metadata_.empty()) {
    ordered_json meta = ordered_json::object();
    for (const auto& [k, v] : metadata_) meta[k] = v;
    header[std::string(kMetadataKey)] = std::move(meta);
  }
  uint64_t offset = 0;
  for (std::size_t i : order) {
    const Pending& t = tensors_[i];
    ordered_json entry = ordered_json::object();
    entry["dtype"] = std::string(dtype_name(t.dtype));
    entry["shape"] = t.shape;
    entry["data_offsets"] = {offset, offset + t.bytes.size()};
    header[t.name] = std::move(entry);
    offset += t.bytes.size();
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');  // data starts 8-byte aligned
  if (text.size() > kMaxHeaderBytes) {
    throw std::invalid_argument("safetensors header would be " + std::to_string(text.size()) +
                                " bytes, over the 100 MB limit readers enforce");
  }

  std::vector<std::byte> out;
  out.reserve(8 + text.size());
  detail::append_le<uint64_t>(out, text.size());
  const auto* p = reinterpret_cast<const std::byte*>(text.data());
  out.insert(out.end(), p, p + text.size());
  return out;
}

std::vector<std::byte> SafetensorsWriter::serialize() const {
  std::vector<std::size_t> order;
  std::vector<std::byte> out = serialize_header(order);
  for (std::size_t i : order) out.insert(out.end(), tensors_[i].bytes.begin(), tensors_[i].bytes.end());
  return out;
}

void SafetensorsWriter::write(const std::filesystem::path& path) const {
  std::vector<std::size_t> order;
  const std::vector<std::byte> header = serialize_header(order);
  AtomicFileWriter file(path);
  file.append(header);
  for (std::size_t i : order) file.append(tensors_[i].bytes);
  file.commit();
}

}  // namespace fedlora::lora::safetensors
