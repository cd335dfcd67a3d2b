#pragma once
// A LoRA adapter as a GGUF file that llama.cpp loads (`--lora`, llama_adapter_lora_init), laid
// out as llama.cpp's convert_lora_to_gguf.py writes it and src/llama-adapter.cpp checks it:
//   general.architecture = the base's ("llama"), general.type = "adapter",
//   adapter.type = "lora", adapter.lora.alpha (f32; llama.cpp scales B·A by alpha / rank),
//   tensors "<base tensor name>.lora_a" with ne = [in, r] and "<base tensor name>.lora_b" with
//   ne = [r, out] — PEFT's lora_A [r, in] and lora_B [out, r] row-major, q/k rows in GGUF order.
#include <filesystem>
#include <span>

#include "lora/adapter/adapter_layout.h"
#include "lora/quant/ggml_type.h"

namespace fedlora::lora {

namespace gguf { class GgufFile; }

/// Writes `flat` (layout order, GGUF q/k row order, float32) as a GGUF LoRA adapter for `base`
/// at `out` (temp file + rename). `type` is F32 or F16 (llama.cpp accepts both for LoRA).
/// Every pair is checked against the base tensor it adapts (present, [out, in] matching).
/// Throws AdapterError on a size or shape mismatch, std::invalid_argument for another `type`
/// or a non-finite weight, gguf::IoError on write failure.
void write_gguf_lora_adapter(const std::filesystem::path& out, const AdapterLayout& layout,
                             std::span<const float> flat, const gguf::GgufFile& base, GgmlType type = GgmlType::F32);

}  // namespace fedlora::lora
