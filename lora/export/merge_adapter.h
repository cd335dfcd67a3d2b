#pragma once
// A base model with a LoRA adapter folded into its weights: W' = W + (alpha / r)·B·A for every
// targeted projection (Hu et al. 2021, "LoRA", §4.2: no inference latency once merged), then
// re-encoded as one GGUF type, as llama.cpp's export-lora tool does. Torch-free.
#include <cstdint>
#include <filesystem>

#include "lora/export/adapter_for_base.h"
#include "lora/quant/ggml_type.h"

namespace fedlora::lora {

struct MergeReport {
  int64_t merged_tensors = 0;  ///< projections that received B·A
  uint64_t file_bytes = 0;
};

/// Reads the GGUF base at `base_path`, adds the adapter (GGUF row order) to the projections it
/// targets in fp32 (weights dequantized exactly from F32/F16/Q8_0/Q4_0), and writes every 2-D
/// weight as `type` (F32, F16, Q8_0 or Q4_0; 1-D norms stay F32) to `out` with the base's
/// metadata and tokenizer, general.file_type updated. Written to a temp file and renamed.
/// Throws AdapterError if the adapter does not fit the base, std::invalid_argument for an
/// unsupported type, gguf::FormatError for a malformed base, gguf::IoError on write failure.
MergeReport merge_adapter_into_base(const std::filesystem::path& base_path, const BoundAdapter& adapter,
                                    const std::filesystem::path& out, GgmlType type);

}  // namespace fedlora::lora
