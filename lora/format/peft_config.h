#pragma once
// Hugging Face PEFT LoRA adapter configuration (`adapter_config.json`, peft_type "LORA"),
// the companion of `adapter_model.safetensors`. Field meanings follow PEFT's LoraConfig
// (peft/tuners/lora/config.py); LoRA scaling is lora_alpha / r (Hu et al. 2021, §4.1).
#include <filesystem>
#include <map>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace fedlora::lora {

/// An adapter_config.json that is not valid JSON, not a LoRA config, or uses a feature
/// fedlora does not implement. The message names the source, the key, and what was wrong.
class PeftConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// The LoRA hyper-parameters fedlora reads and writes. Defaults are PEFT's LoraConfig
/// defaults, except task_type (PEFT: none) which defaults to "CAUSAL_LM" for new configs.
struct PeftLoraConfig {
  int r = 8;                                ///< LoRA rank, > 0
  float lora_alpha = 8.0f;                  ///< scaling numerator, > 0; scaling = lora_alpha / r
  std::vector<std::string> target_modules;  ///< module name suffixes, e.g. {"q_proj", "v_proj"}
  float lora_dropout = 0.0f;                ///< dropout probability on the LoRA input, in [0, 1)
  std::string bias = "none";                ///< "none", "all" or "lora_only"
  std::string task_type = "CAUSAL_LM";      ///< PEFT TaskType; "" is written as null
  std::string base_model_name_or_path;      ///< "" is written as null
  bool fan_in_fan_out = false;              ///< true for GPT-2 style Conv1D weights [in, out]

  /// Keys fedlora does not interpret (e.g. "inference_mode", "init_lora_weights",
  /// "revision"), kept as their JSON text so read -> write preserves them. Keys that would
  /// change the adapter's meaning are not kept but refused on read (see parse_peft_config).
  std::map<std::string, std::string> extra_json;

  float scaling() const noexcept { return lora_alpha / static_cast<float>(r); }
  bool operator==(const PeftLoraConfig&) const = default;
};

/// Throws PeftConfigError unless r > 0, lora_alpha > 0 and finite, lora_dropout in [0, 1),
/// target_modules non-empty with non-empty names, bias one of none/all/lora_only, and every
/// extra_json entry is valid JSON under a key that is not one of the fields above.
void validate(const PeftLoraConfig& config);

/// Parses adapter_config.json text. Requires "peft_type": "LORA". Missing fields take PEFT's
/// defaults (task_type and base_model_name_or_path become "" when absent or null);
/// target_modules must be a non-empty list (PEFT's regex-string and "all-linear" forms are
/// refused: fedlora needs explicit module names). Refused because they change what the
/// adapter computes: use_dora, use_rslora or lora_bias true; non-empty rank_pattern,
/// alpha_pattern, modules_to_save, exclude_modules; non-null layers_to_transform or
/// layer_replication. Other unknown keys are preserved in extra_json. The result is
/// validated. `source` names the input in errors. Throws PeftConfigError.
PeftLoraConfig parse_peft_config(std::string_view json_text, std::string_view source = "<memory>");

/// adapter_config.json text: the fields above plus "peft_type": "LORA" and extra_json,
/// keys sorted and 2-space indented, no trailing newline, as PEFT's save_pretrained writes
/// them (json.dumps(indent=2, sort_keys=True)). lora_alpha is
/// written as an integer when it is one. Validates first (PeftConfigError).
std::string to_peft_json(const PeftLoraConfig& config);

/// Reads and parses a file (PeftConfigError, or IoError if it cannot be read).
PeftLoraConfig read_peft_config(const std::filesystem::path& path);
/// Validates and writes atomically (temporary file + rename). Throws PeftConfigError/IoError.
void write_peft_config(const std::filesystem::path& path, const PeftLoraConfig& config);

}  // namespace fedlora::lora
