#include "lora/export/adapter_for_base.h"

#include <stdexcept>

#include "lora/adapter/adapter_io.h"
#include "lora/format/gguf_reader.h"
#include "lora/format/safetensors.h"

namespace fs = std::filesystem;

namespace fedlora::lora {
namespace {

constexpr const char* kOrderKey = "fedlora.qk_row_order";

const char* order_name(QkRowOrder o) { return o == QkRowOrder::hf ? "hf" : "gguf"; }

}  // namespace

BaseModelInfo describe_base(const gguf::GgufFile& base, const std::string& fallback_name) {
  BaseModelInfo info{read_llama_config(base), base.find_string("general.name").value_or(fallback_name),
                     QkRowOrder::gguf};
  // hf_import writes this key; llama.cpp's own converter would have permuted the same way.
  if (base.find_string("general.source.format").value_or("") == "huggingface-safetensors")
    info.peft_qk_order = QkRowOrder::hf;
  return info;
}

BoundAdapter read_peft_adapter_for_base(const fs::path& dir, const BaseModelInfo& base) {
  const auto pc = read_adapter_config(dir);
  std::vector<TargetModule> targets;
  for (const auto& m : pc.target_modules) targets.push_back(parse_target_module(m));
  BoundAdapter a{make_adapter_layout(base.config, pc.r, pc.lora_alpha, targets), {}};
  a.flat = read_adapter_weights(dir, a.layout);
  QkRowOrder order = base.peft_qk_order;
  const auto md = safetensors::SafetensorsFile::open(dir / "adapter_model.safetensors").metadata();
  if (auto it = md.find(kOrderKey); it != md.end()) {
    if (it->second == "hf") order = QkRowOrder::hf;
    else if (it->second == "gguf") order = QkRowOrder::gguf;
    else throw std::runtime_error((dir / "adapter_model.safetensors").string() + ": unknown " + kOrderKey + " '" +
                                  it->second + "' (expected hf or gguf)");
  }
  convert_qk_rows(a.layout, a.flat, base.config.n_heads, base.config.n_kv_heads, order, QkRowOrder::gguf);
  return a;
}

void write_peft_adapter_for_base(const fs::path& dir, const AdapterLayout& layout, std::span<const float> flat,
                                 const BaseModelInfo& base, std::map<std::string, std::string> metadata) {
  layout.check_size(flat);
  std::vector<float> out(flat.begin(), flat.end());
  convert_qk_rows(layout, out, base.config.n_heads, base.config.n_kv_heads, QkRowOrder::gguf, base.peft_qk_order);
  metadata[kOrderKey] = order_name(base.peft_qk_order);
  save_adapter(dir, layout, out, base.name, metadata);
}

}  // namespace fedlora::lora
