#pragma once
// Adapters on disk in the Hugging Face PEFT layout: a directory with
// `adapter_model.safetensors` (lora_A [r, in] / lora_B [out, r] per targeted projection,
// keys base_model.model.model.layers.N.{self_attn,mlp}.X_proj.lora_{A,B}.weight) and
// `adapter_config.json` (peft_type LORA, r, lora_alpha, target_modules). Torch-free, so the
// coordinator can checkpoint and serve adapters.
#include <filesystem>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "lora/adapter/adapter_layout.h"
#include "lora/format/peft_config.h"

namespace fedlora::lora {

/// Writes `flat` (layout order, float32) as F32 safetensors plus adapter_config.json into
/// `dir` (created if missing; each file written to a temp file and renamed).
/// `metadata` goes into the safetensors `__metadata__` (e.g. round, run seed).
/// Throws AdapterError on a size mismatch, std::runtime_error on I/O failure.
void save_adapter(const std::filesystem::path& dir, const AdapterLayout& layout, std::span<const float> flat,
                  const std::string& base_model_name, const std::map<std::string, std::string>& metadata = {});

/// The PEFT config of an adapter directory. Throws PeftConfigError / std::runtime_error.
PeftLoraConfig read_adapter_config(const std::filesystem::path& dir);

/// Reads the tensors of `dir`/adapter_model.safetensors into a flat vector in `layout`'s
/// order. Accepts F32, F16 and BF16 tensors. Throws AdapterError naming the tensor when one
/// is missing, has the wrong shape or dtype, or holds NaN/Inf, and when the file has LoRA
/// tensors the layout does not know (a different rank, target set or model);
/// safetensors::FormatError on a malformed file.
std::vector<float> read_adapter_weights(const std::filesystem::path& dir, const AdapterLayout& layout);

}  // namespace fedlora::lora
