#pragma once
// llama.cpp's GGUF tensor names for the llama architecture (llama.cpp `LLM_TENSOR_NAMES`,
// LLM_ARCH_LLAMA): token_embd, output_norm, output, blk.N.{attn_norm, attn_q, attn_k,
// attn_v, attn_output, ffn_norm, ffn_gate, ffn_up, ffn_down}.weight.
#include <string>

#include "lora/adapter/adapter_layout.h"

namespace fedlora::lora {

inline constexpr const char* kTokenEmbdName = "token_embd.weight";
inline constexpr const char* kOutputName = "output.weight";
inline constexpr const char* kOutputNormName = "output_norm.weight";

/// "blk.3.attn_q.weight", ..., "blk.3.ffn_down.weight".
inline std::string gguf_projection_name(int layer, TargetModule m) {
  static constexpr const char* kSuffix[] = {"attn_q", "attn_k", "attn_v", "attn_output",
                                            "ffn_gate", "ffn_up", "ffn_down"};
  return "blk." + std::to_string(layer) + "." + kSuffix[static_cast<int>(m)] + ".weight";
}
inline std::string gguf_attn_norm_name(int layer) { return "blk." + std::to_string(layer) + ".attn_norm.weight"; }
inline std::string gguf_ffn_norm_name(int layer) { return "blk." + std::to_string(layer) + ".ffn_norm.weight"; }

}  // namespace fedlora::lora
