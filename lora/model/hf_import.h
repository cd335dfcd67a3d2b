#pragma once
// Hugging Face LlamaForCausalLM checkpoint -> our GGUF base model, following llama.cpp's
// convert_hf_to_gguf.py (LlamaModel): same tensor names (gguf_names.h), llama.* metadata
// (write_llama_metadata) and tokenizer keys, and the same Q/K row permutation
// (`LlamaModel.permute`): HF orders each head's rows for `rotate_half` RoPE, which pairs
// element i with i + head_dim/2; our decoder and llama.cpp pair 2i with 2i+1.
//
// Input directory: config.json (hf_config.h), model.safetensors or
// model.safetensors.index.json with its shards (hf_checkpoint.h), and a tokenizer:
// tokenizer.model (SentencePiece; preferred, as convert_hf_to_gguf.py does) or a byte-level
// BPE tokenizer.json (hf_bpe_vocab.h), plus optional tokenizer_config.json.
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include "lora/format/hf_config.h"
#include "lora/export/rope_rows.h"  // permute_rope_rows
#include "lora/model/llama_config.h"
#include "lora/quant/ggml_type.h"

namespace fedlora::lora {

/// Our LlamaConfig for an HF config (context_length = max_position_embeddings).
/// Throws ModelConfigError if the result is inconsistent.
LlamaConfig llama_config_from_hf(const hf::HfLlamaConfig& hf);



struct HfImportOptions {
  GgmlType type = GgmlType::F16;  ///< 2-D weights; norms stay F32 (as llama.cpp keeps them)
  std::string name;               ///< general.name; default: the directory's name
  /// llama.context_length written, i.e. the training window of the simulator and devices;
  /// 0 = max_position_embeddings. Must not exceed max_position_embeddings (HfImportError).
  int64_t context_length = 0;
};

struct HfImportReport {
  LlamaConfig config;
  std::string tokenizer;   ///< "llama" (SentencePiece) or "gpt2/<pre>" (byte-level BPE)
  int64_t tokenizer_size = 0;  ///< tokens defined by the tokenizer files (before padding)
  int64_t parameters = 0;
  uint64_t file_bytes = 0;
};

/// Converts the checkpoint in `dir` and writes `out` (atomically). Each tensor is read,
/// converted to float32, permuted if it is q_proj/k_proj, and encoded as options.type.
/// Throws hf::HfImportError (config, checkpoint, missing/unexpected/misshapen tensors, a row
/// length that is not a multiple of 32 for Q8_0/Q4_0, no tokenizer, a tokenizer larger than
/// vocab_size), TokenizerError (malformed tokenizer files), safetensors::FormatError.
HfImportReport import_hf_checkpoint(const std::filesystem::path& dir, const std::filesystem::path& out,
                                    const HfImportOptions& options = {});

}  // namespace fedlora::lora
