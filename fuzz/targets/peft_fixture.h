#pragma once
// The base and the valid PEFT adapter of the peft_adapter fuzz target, shared with the
// corpus maker.
#include <filesystem>

#include "lora/export/adapter_for_base.h"

namespace fedlora::fuzz {

/// A one-block llama (dim 32, 2 heads / 1 KV head, ffn 32, vocab 262); `hf` = the base came
/// from Hugging Face safetensors (PEFT q/k rows in rotate_half order).
lora::BaseModelInfo fuzz_peft_base(bool hf);

/// Writes adapter_config.json and adapter_model.safetensors of a rank-2 q/v adapter with
/// hand-chosen finite values for fuzz_peft_base(hf) into `dir`.
void write_fuzz_peft_adapter(const std::filesystem::path& dir, bool hf);

}  // namespace fedlora::fuzz
