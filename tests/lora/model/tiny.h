#pragma once
// Shared fixtures: a tiny Llama config whose sizes are multiples of 32 so every block
// format applies.
#include "lora/model/dense_model.h"

namespace fedlora::lora::test {
inline LlamaConfig tiny_config() {
  LlamaConfig c;
  c.vocab_size = 64;
  c.dim = 64;
  c.n_layers = 2;
  c.n_heads = 4;
  c.n_kv_heads = 2;
  c.ffn_dim = 96;
  c.context_length = 16;
  c.rope_theta = 10000.0f;
  c.norm_eps = 1e-5f;
  return c;
}
}  // namespace fedlora::lora::test
