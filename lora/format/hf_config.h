#pragma once
// Hugging Face `config.json` of a `LlamaForCausalLM` checkpoint (transformers
// LlamaConfig, models/llama/configuration_llama.py), reduced to what our decoder
// implements. Keys and defaults follow transformers' LlamaConfig:
//   hidden_size, intermediate_size, num_hidden_layers, num_attention_heads (required),
//   vocab_size (required), num_key_value_heads (default = num_attention_heads),
//   rms_norm_eps (1e-6), rope_theta (10000), max_position_embeddings (2048),
//   tie_word_embeddings (false), hidden_act ("silu").
// Features our decoder does not implement are refused with the key named: rope_scaling
// (non-null), attention_bias / mlp_bias = true, sliding_window (non-null) / use_sliding_window,
// a head_dim other than hidden_size / num_attention_heads, partial_rotary_factor != 1,
// hidden_act other than "silu", and any architecture other than LlamaForCausalLM.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace fedlora::lora::hf {

/// A config.json, safetensors checkpoint or tokenizer file that cannot be imported. The
/// message names the file, the key or tensor, and what is wrong.
class HfImportError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// The hyper-parameters of a LlamaForCausalLM checkpoint (names as in config.json).
struct HfLlamaConfig {
  int64_t hidden_size = 0;
  int64_t intermediate_size = 0;
  int64_t num_hidden_layers = 0;
  int64_t num_attention_heads = 0;
  int64_t num_key_value_heads = 0;  ///< grouped-query attention (Ainslie et al. 2023)
  int64_t vocab_size = 0;
  int64_t max_position_embeddings = 2048;
  double rms_norm_eps = 1e-6;
  double rope_theta = 10000.0;
  bool tie_word_embeddings = false;
  std::optional<int64_t> bos_token_id;  ///< as in config.json, if an integer
  std::optional<int64_t> eos_token_id;  ///< as in config.json, if an integer (first of a list)

  int64_t head_dim() const { return hidden_size / num_attention_heads; }
};

/// Parses config.json text. `source` names the file in messages. Throws HfImportError if
/// the text is not a JSON object, a required key is missing, a key has the wrong JSON type
/// or an out-of-range value (sizes must be positive integers, heads must divide
/// hidden_size and num_key_value_heads must divide num_attention_heads, head_dim even),
/// or the model uses a feature listed at the top of this file.
HfLlamaConfig parse_hf_config(std::string_view json_text, std::string_view source = "config.json");

/// Reads and parses `path` (at most 16 MiB). Throws HfImportError.
HfLlamaConfig load_hf_config(const std::filesystem::path& path);

/// Reads a whole small text file (JSON); throws HfImportError naming `path` if it cannot
/// be read or exceeds `max_bytes`.
std::string read_text_file(const std::filesystem::path& path, std::size_t max_bytes);

}  // namespace fedlora::lora::hf
