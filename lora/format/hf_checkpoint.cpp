#include "lora/format/hf_checkpoint.h"

#include <bit>
#include <cstring>
#include <nlohmann/json.hpp>

#include "lora/quant/fp16.h"

namespace fedlora::lora::hf {

namespace fs = std::filesystem;

float bf16_to_f32(uint16_t bits) { return std::bit_cast<float>(static_cast<uint32_t>(bits) << 16); }

HfCheckpoint HfCheckpoint::open(const fs::path& dir) {
  HfCheckpoint ck;
  const fs::path single = dir / "model.safetensors";
  const fs::path index = dir / "model.safetensors.index.json";
  if (fs::exists(single)) {
    ck.shards_.push_back(std::make_unique<safetensors::SafetensorsFile>(safetensors::SafetensorsFile::open(single)));
    for (const auto& t : ck.shards_[0]->tensors()) ck.where_[t.name] = 0;
    return ck;
  }
  if (!fs::exists(index))
    throw HfImportError(dir.string() +
                        ": no model.safetensors or model.safetensors.index.json (PyTorch .bin checkpoints are "
                        "not supported; save the model with safe_serialization=True)");
  const std::string src = index.string();
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(read_text_file(index, 64u << 20));
  } catch (const nlohmann::json::exception& e) {
    throw HfImportError(src + ": not valid JSON: " + e.what());
  }
  if (!j.is_object() || !j.contains("weight_map") || !j["weight_map"].is_object())
    throw HfImportError(src + ": key 'weight_map' is missing or not an object");
  std::map<std::string, std::size_t> shard_index;
  for (const auto& [tensor, file] : j["weight_map"].items()) {
    if (!file.is_string()) throw HfImportError(src + ": weight_map['" + tensor + "'] is not a file name");
    const auto name = file.get<std::string>();
    const fs::path p(name);
    if (name.empty() || p.has_parent_path() || p.is_absolute() || name == "." || name == "..")
      throw HfImportError(src + ": weight_map['" + tensor + "'] = '" + name + "' is not a plain file name");
    auto it = shard_index.find(name);
    if (it == shard_index.end()) {
      if (!fs::exists(dir / p)) throw HfImportError(src + ": shard " + name + " (of tensor " + tensor + ") is missing");
      ck.shards_.push_back(
          std::make_unique<safetensors::SafetensorsFile>(safetensors::SafetensorsFile::open(dir / p)));
      it = shard_index.emplace(name, ck.shards_.size() - 1).first;
    }
    if (!ck.shards_[it->second]->find(tensor))
      throw HfImportError(src + ": tensor " + tensor + " is listed in shard " + name + " but not stored there");
    ck.where_[tensor] = it->second;
  }
  if (ck.where_.empty()) throw HfImportError(src + ": weight_map is empty");
  return ck;
}

std::vector<std::string> HfCheckpoint::names() const {
  std::vector<std::string> out;
  for (const auto& [n, s] : where_) out.push_back(n);
  return out;
}

const safetensors::TensorInfo& HfCheckpoint::info(std::string_view name, std::size_t* shard) const {
  auto it = where_.find(std::string(name));
  if (it == where_.end()) throw HfImportError("checkpoint has no tensor " + std::string(name));
  if (shard) *shard = it->second;
  return *shards_[it->second]->find(name);
}

const std::vector<uint64_t>& HfCheckpoint::shape(std::string_view name) const { return info(name, nullptr).shape; }

std::string HfCheckpoint::dtype(std::string_view name) const {
  return std::string(safetensors::dtype_name(info(name, nullptr).dtype));
}

std::vector<float> HfCheckpoint::read_f32(std::string_view name) const {
  std::size_t s = 0;
  const auto& t = info(name, &s);
  const auto bytes = shards_[s]->tensor_bytes(t);
  const std::size_t n = t.n_elements();
  std::vector<float> out(n);
  switch (t.dtype) {
    case safetensors::Dtype::F32:
      std::memcpy(out.data(), bytes.data(), n * 4);
      break;
    case safetensors::Dtype::F16:
      for (std::size_t i = 0; i < n; ++i) {
        uint16_t h;
        std::memcpy(&h, bytes.data() + 2 * i, 2);
        out[i] = fp16_to_fp32(h);
      }
      break;
    case safetensors::Dtype::BF16:
      for (std::size_t i = 0; i < n; ++i) {
        uint16_t h;
        std::memcpy(&h, bytes.data() + 2 * i, 2);
        out[i] = bf16_to_f32(h);
      }
      break;
    default:
      throw HfImportError(shards_[s]->source() + ": tensor " + std::string(name) + " has dtype " +
                          std::string(safetensors::dtype_name(t.dtype)) + "; only F32, F16 and BF16 can be imported");
  }
  return out;
}

}  // namespace fedlora::lora::hf
