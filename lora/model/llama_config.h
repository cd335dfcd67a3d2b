#pragma once
// Hyper-parameters of a Llama-architecture decoder (Touvron et al. 2023), named and
// stored as llama.cpp's GGUF metadata keys ("llama.embedding_length", ...).
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "lora/adapter/adapter_layout.h"
#include "lora/quant/ggml_type.h"

namespace fedlora::lora {

/// Thrown when a model's hyper-parameters are inconsistent.
struct ModelConfigError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct LlamaConfig {
  int64_t vocab_size = 4096;      ///< llama.vocab_size (= number of tokenizer pieces)
  int64_t dim = 256;              ///< llama.embedding_length
  int64_t n_layers = 4;           ///< llama.block_count
  int64_t n_heads = 8;            ///< llama.attention.head_count
  int64_t n_kv_heads = 4;         ///< llama.attention.head_count_kv (grouped-query attention)
  int64_t ffn_dim = 768;          ///< llama.feed_forward_length (SwiGLU hidden size)
  int64_t context_length = 128;   ///< llama.context_length (tokens)
  float rope_theta = 10000.0f;    ///< llama.rope.freq_base
  float norm_eps = 1e-5f;         ///< llama.attention.layer_norm_rms_epsilon
  bool tied_embeddings = true;    ///< LM head reuses token_embd.weight (no output.weight)

  int64_t head_dim() const { return dim / n_heads; }
  /// [out, in] of a projection: q,o: [dim,dim]; k,v: [n_kv*head_dim, dim];
  /// gate,up: [ffn, dim]; down: [dim, ffn].
  ProjectionShape projection(TargetModule m) const;
  /// Number of weights in the base model (embedding counted once when tied).
  int64_t parameter_count() const;
  /// Throws ModelConfigError naming the first inconsistency (e.g. dim % n_heads != 0,
  /// odd head_dim for RoPE, n_heads % n_kv_heads != 0, non-positive sizes).
  void validate() const;
  /// A one-line summary, e.g. "llama dim=256 layers=4 heads=8/4 ffn=768 vocab=4096 ctx=128".
  std::string summary() const;
};

namespace gguf { class GgufFile; class GgufWriter; }

/// Reads llama.* hyper-parameters from GGUF metadata (llama.cpp key names). Throws
/// gguf::FormatError if general.architecture is not "llama" or a required key is missing,
/// ModelConfigError if the values are inconsistent.
LlamaConfig read_llama_config(const gguf::GgufFile& file);

/// llama.cpp's general.file_type (llama_ftype) of a base whose matrices are `weight_type`:
/// 0 all F32, 1 mostly F16, 2 mostly Q4_0, 7 mostly Q8_0. Throws ModelConfigError for other types.
uint32_t llama_file_type(GgmlType weight_type);

/// Writes general.architecture = "llama", general.name, general.file_type and the llama.*
/// hyper-parameters of `cfg` (llama.cpp key names) into `w`. Throws ModelConfigError for a
/// weight type llama_file_type refuses.
void write_llama_metadata(gguf::GgufWriter& w, const LlamaConfig& cfg, const std::string& name, GgmlType weight_type);

/// The layout of an adapter of rank `rank` (alpha, targets) on a base of this shape
/// (LoRA, Hu et al. 2021 §4.1). Torch-free: the coordinator builds it from the GGUF metadata.
AdapterLayout make_adapter_layout(const LlamaConfig& cfg, int rank, float alpha, std::vector<TargetModule> targets);

}  // namespace fedlora::lora
