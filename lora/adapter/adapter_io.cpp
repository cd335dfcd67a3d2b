#include "lora/adapter/adapter_io.h"

#include <cmath>
#include <cstring>

#include "lora/format/safetensors.h"
#include "lora/quant/fp16.h"

namespace fedlora::lora {
namespace fs = std::filesystem;

void save_adapter(const fs::path& dir, const AdapterLayout& layout, std::span<const float> flat,
                  const std::string& base_model_name, const std::map<std::string, std::string>& metadata) {
  layout.check_size(flat);
  fs::create_directories(dir);
  safetensors::SafetensorsWriter w;
  w.set_metadata("format", "pt");
  for (const auto& [k, v] : metadata) w.set_metadata(k, v);
  for (const auto& t : layout.tensors()) {
    auto bytes = std::as_bytes(flat.subspan(static_cast<size_t>(t.offset), static_cast<size_t>(t.numel())));
    w.add_tensor(t.name, safetensors::Dtype::F32, {static_cast<uint64_t>(t.rows), static_cast<uint64_t>(t.cols)}, bytes);
  }
  w.write(dir / "adapter_model.safetensors");
  PeftLoraConfig cfg;
  cfg.r = layout.rank();
  cfg.lora_alpha = layout.alpha();
  for (TargetModule m : layout.targets()) cfg.target_modules.emplace_back(peft_module_name(m));
  cfg.base_model_name_or_path = base_model_name;
  write_peft_config(dir / "adapter_config.json", cfg);
}

PeftLoraConfig read_adapter_config(const fs::path& dir) { return read_peft_config(dir / "adapter_config.json"); }

std::vector<float> read_adapter_weights(const fs::path& dir, const AdapterLayout& layout) {
  const auto path = dir / "adapter_model.safetensors";
  auto file = safetensors::SafetensorsFile::open(path);
  std::vector<float> flat(static_cast<size_t>(layout.size()));
  for (const auto& t : layout.tensors()) {
    const auto* info = file.find(t.name);
    if (!info) throw AdapterError(path.string() + ": missing tensor " + t.name);
    if (info->shape != std::vector<uint64_t>{static_cast<uint64_t>(t.rows), static_cast<uint64_t>(t.cols)})
      throw AdapterError(path.string() + ": tensor " + t.name + " should be [" + std::to_string(t.rows) + ", " +
                         std::to_string(t.cols) + "]");
    auto bytes = file.tensor_bytes(*info);
    float* dst = flat.data() + t.offset;
    const auto n = static_cast<size_t>(t.numel());
    switch (info->dtype) {
      case safetensors::Dtype::F32:
        std::memcpy(dst, bytes.data(), n * 4);
        break;
      case safetensors::Dtype::F16:
      case safetensors::Dtype::BF16:
        for (size_t i = 0; i < n; ++i) {
          uint16_t h;
          std::memcpy(&h, bytes.data() + 2 * i, 2);
          if (info->dtype == safetensors::Dtype::F16) {
            dst[i] = fp16_to_fp32(h);
          } else {
            const uint32_t bits = static_cast<uint32_t>(h) << 16;
            std::memcpy(&dst[i], &bits, 4);
          }
        }
        break;
      default:
        throw AdapterError(path.string() + ": tensor " + t.name + " has dtype " +
                           std::string(safetensors::dtype_name(info->dtype)) + "; expected F32, F16 or BF16");
    }
    for (size_t i = 0; i < n; ++i)
      if (!std::isfinite(dst[i])) throw AdapterError(path.string() + ": tensor " + t.name + " holds NaN or Inf");
  }
  for (const auto& info : file.tensors())
    if (info.name.find(".lora_") != std::string::npos && !layout.find(info.name))
      throw AdapterError(path.string() + ": tensor " + info.name +
                         " is not part of the expected adapter (different rank, targets or model?)");
  return flat;
}

}  // namespace fedlora::lora
