#include "lora/model/adapted_model.h"

#include "lora/export/adapter_for_base.h"
#include "lora/format/gguf_reader.h"

namespace fedlora::lora {

AdaptedModel load_adapted_model(const std::filesystem::path& base_path,
                                const std::optional<std::filesystem::path>& adapter_dir, std::optional<GgmlType> type) {
  AdaptedModel m;
  m.base = load_base_model(base_path, type);
  if (adapter_dir) {
    const auto bound = read_peft_adapter_for_base(*adapter_dir, describe_base(gguf::GgufFile::open(base_path)));
    m.adapter = std::make_unique<LoraAdapter>(bound.layout);
    m.adapter->load_flat(bound.flat);
  } else {
    m.adapter = std::make_unique<LoraAdapter>(make_adapter_layout(m.base->config, 1, 1.0f, {TargetModule::q}));
  }
  m.model = std::make_unique<LoraModel>(m.base, *m.adapter);
  return m;
}

}  // namespace fedlora::lora
