#pragma once
// The frozen base of a device: a Llama decoder whose projection and embedding weights are
// held in ggml block formats (F32/F16/Q8_0/Q4_0). Loaded once, shared read-only by every
// virtual device (concurrent readers are safe).
#include <ATen/ATen.h>

#include <filesystem>
#include <memory>
#include <optional>
#include <vector>

#include "lora/model/llama_config.h"
#include "lora/quant/quantized_tensor.h"

namespace fedlora::lora {

/// One transformer block's frozen weights. proj[m] is [out, in] for TargetModule m
/// (llama.cpp tensors blk.N.attn_q/attn_k/attn_v/attn_output/ffn_gate/ffn_up/ffn_down).
struct BaseBlock {
  at::Tensor attn_norm;  ///< float32 [dim]
  at::Tensor ffn_norm;   ///< float32 [dim]
  std::vector<QuantizedTensor> proj;  ///< 7 entries, indexed by TargetModule
  const QuantizedTensor& operator[](TargetModule m) const { return proj[static_cast<size_t>(m)]; }
};

struct BaseModel {
  LlamaConfig config;
  std::vector<QuantizedTensor> token_embd;  ///< 1 entry: [vocab, dim]
  std::vector<QuantizedTensor> output;      ///< empty when tied; else 1 entry [vocab, dim]
  at::Tensor output_norm;                   ///< float32 [dim]
  std::vector<BaseBlock> blocks;
  /// Keeps memory-mapped weight bytes alive when tensors view a file.
  std::shared_ptr<const void> keep_alive;

  const QuantizedTensor& embedding() const { return token_embd.front(); }
  const QuantizedTensor& head() const { return output.empty() ? token_embd.front() : output.front(); }
  /// Bytes held by the weights (blocks + norms), i.e. what a device keeps resident.
  size_t resident_bytes() const;
  /// The storage type of the projection weights (all projections share one type).
  GgmlType weight_type() const { return blocks.front()[TargetModule::q].type(); }
};

/// Loads a llama-architecture GGUF v3 file (llama.cpp metadata keys and tensor names).
/// When `quantize_to` is set, every projection/embedding weight is re-encoded to that type
/// on load (via float32); otherwise tensors keep their stored type and view the mapping.
/// Throws gguf::FormatError / ModelConfigError naming the missing key, tensor or shape.
std::shared_ptr<const BaseModel> load_base_model(const std::filesystem::path& gguf_path,
                                                  std::optional<GgmlType> quantize_to = std::nullopt);

/// Builds a BaseModel from float32 weights named as llama.cpp names them in GGUF
/// ("token_embd.weight" [vocab, dim], "blk.N.attn_q.weight" [out, in], ...), quantized to `type`.
/// Throws ModelConfigError on a missing tensor or wrong shape.
std::shared_ptr<const BaseModel> make_base_model(const LlamaConfig& config,
                                                 const std::vector<std::pair<std::string, at::Tensor>>& weights,
                                                 GgmlType type);


namespace gguf { class GgufFile; class GgufWriter; }


/// Adds float32 weights (llama.cpp names, PyTorch shapes [out, in] or [dim]) to `w`:
/// 2-D weights encoded as `weight_type`, norms (1-D) as F32 as llama.cpp keeps them.
void write_llama_weights(gguf::GgufWriter& w, const std::vector<std::pair<std::string, at::Tensor>>& weights,
                         GgmlType weight_type);

}  // namespace fedlora::lora
