#pragma once
// A LoRA adapter bound to the GGUF base it adapts. Inside fedlora an adapter's q/k lora_B rows
// always follow the base's GGUF (llama.cpp) row order, because that is what the decoder and
// llama.cpp compute with. On disk in PEFT form they follow the order of the base's own model
// family: Hugging Face's rotate_half order when the base was imported from HF (so the adapter
// works on the original HF checkpoint under PEFT), the GGUF order for bases born as GGUF.
// The PEFT file records the order it was written in (`fedlora.qk_row_order`); a PEFT adapter
// without that key came from elsewhere and is taken to be in its base's PEFT order.
#include <filesystem>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "lora/adapter/adapter_layout.h"
#include "lora/export/rope_rows.h"
#include "lora/model/llama_config.h"

namespace fedlora::lora {

namespace gguf { class GgufFile; }

/// What an adapter needs to know about its base GGUF.
struct BaseModelInfo {
  LlamaConfig config;
  std::string name;            ///< general.name, or the file name
  QkRowOrder peft_qk_order;    ///< hf when general.source.format says the base came from HF safetensors
};

/// Reads the llama hyper-parameters and origin of `base`. Throws gguf::FormatError /
/// ModelConfigError (read_llama_config).
BaseModelInfo describe_base(const gguf::GgufFile& base, const std::string& fallback_name = "base");

/// An adapter in memory: its layout on the base and the flat float32 vector in GGUF row order.
struct BoundAdapter {
  AdapterLayout layout;
  std::vector<float> flat;
};

/// Reads a PEFT adapter directory (adapter_config.json + adapter_model.safetensors, F32/F16/BF16)
/// for `base`, and returns it in GGUF row order. Throws PeftConfigError, AdapterError (missing,
/// misshapen, foreign or non-finite tensors; the adapter's shapes do not fit this base),
/// safetensors::FormatError, or std::runtime_error when the recorded row order is unknown.
BoundAdapter read_peft_adapter_for_base(const std::filesystem::path& dir, const BaseModelInfo& base);

/// Writes `flat` (GGUF row order) as a PEFT adapter directory for `base`: q/k lora_B rows in the
/// base's PEFT order, which is recorded in the safetensors metadata beside `metadata`.
/// Throws AdapterError on a size mismatch, std::runtime_error on I/O failure.
void write_peft_adapter_for_base(const std::filesystem::path& dir, const AdapterLayout& layout,
                                 std::span<const float> flat, const BaseModelInfo& base,
                                 std::map<std::string, std::string> metadata = {});

}  // namespace fedlora::lora
