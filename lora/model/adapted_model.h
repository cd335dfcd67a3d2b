#pragma once
// A GGUF base with an optional PEFT adapter attached: what the inference tools (eval,
// suggest, generate) run. The adapter is read for this base (lora/export/adapter_for_base.h),
// so HF-ordered q/k rows are put back in the base's GGUF order.
#include <filesystem>
#include <memory>
#include <optional>

#include "lora/model/base_model.h"
#include "lora/model/lora_model.h"

namespace fedlora::lora {

struct AdaptedModel {
  std::shared_ptr<const BaseModel> base;
  std::unique_ptr<LoraAdapter> adapter;  ///< rank-1 q-only with B = 0 when no adapter was given
  std::unique_ptr<LoraModel> model;
};

/// Loads `base_path` (re-encoded to `type` if set) and, if `adapter_dir` is set, the PEFT
/// adapter in it. Throws what load_base_model and read_peft_adapter_for_base throw.
AdaptedModel load_adapted_model(const std::filesystem::path& base_path,
                                const std::optional<std::filesystem::path>& adapter_dir,
                                std::optional<GgmlType> type = std::nullopt);

}  // namespace fedlora::lora
