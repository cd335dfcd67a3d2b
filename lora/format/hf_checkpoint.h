#pragma once
// The tensors of a Hugging Face checkpoint directory: `model.safetensors`, or shards listed
// in `model.safetensors.index.json` ({"metadata": {...}, "weight_map": {tensor: shard file}},
// as transformers' save_pretrained writes it). Tensors may be F32, F16 or BF16; they are
// read as float32 on demand, one at a time, so memory stays at one tensor plus the mapping.
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "lora/format/hf_config.h"
#include "lora/format/safetensors.h"

namespace fedlora::lora::hf {

class HfCheckpoint {
 public:
  /// Opens `dir`/model.safetensors if present, else the index and every shard it names.
  /// Throws HfImportError if neither exists, the index is not valid JSON or lacks a
  /// weight_map of strings, a shard name is not a plain file name in `dir`, a shard is
  /// missing, or the index names a tensor its shard does not hold; safetensors::FormatError
  /// / IoError (from the safetensors reader) for a malformed shard.
  static HfCheckpoint open(const std::filesystem::path& dir);

  /// All tensor names, sorted.
  std::vector<std::string> names() const;
  bool has(std::string_view name) const { return where_.find(std::string(name)) != where_.end(); }
  /// Row-major shape ([out, in] for a Linear weight). Throws HfImportError if absent.
  const std::vector<uint64_t>& shape(std::string_view name) const;
  /// The tensor converted to float32, row-major. Throws HfImportError if it is absent or
  /// its dtype is not F32, F16 or BF16.
  std::vector<float> read_f32(std::string_view name) const;
  /// dtype name as stored ("BF16", ...). Throws HfImportError if absent.
  std::string dtype(std::string_view name) const;

 private:
  const safetensors::TensorInfo& info(std::string_view name, std::size_t* shard) const;

  std::vector<std::unique_ptr<safetensors::SafetensorsFile>> shards_;
  std::map<std::string, std::size_t> where_;  // tensor name -> shard index
};

/// BF16 bits -> float32 (the upper half of an IEEE binary32, exact).
float bf16_to_f32(uint16_t bits);

}  // namespace fedlora::lora::hf
