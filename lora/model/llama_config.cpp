#include "lora/model/llama_config.h"

namespace fedlora::lora {

ProjectionShape LlamaConfig::projection(TargetModule m) const {
  const int64_t kv = n_kv_heads * head_dim();
  switch (m) {
    case TargetModule::q: return {dim, dim};
    case TargetModule::k: return {dim, kv};
    case TargetModule::v: return {dim, kv};
    case TargetModule::o: return {dim, dim};
    case TargetModule::gate: return {dim, ffn_dim};
    case TargetModule::up: return {dim, ffn_dim};
    case TargetModule::down: return {ffn_dim, dim};
  }
  throw ModelConfigError("unknown projection");
}

int64_t LlamaConfig::parameter_count() const {
  int64_t per_layer = 2 * dim;  // two RMSNorm weights
  for (TargetModule m : kAllTargetModules) {
    auto s = projection(m);
    per_layer += s.in_features * s.out_features;
  }
  int64_t n = vocab_size * dim + n_layers * per_layer + dim;
  if (!tied_embeddings) n += vocab_size * dim;
  return n;
}

void LlamaConfig::validate() const {
  auto fail = [](const std::string& what) { throw ModelConfigError("model config: " + what); };
  if (vocab_size <= 0 || dim <= 0 || n_layers <= 0 || n_heads <= 0 || n_kv_heads <= 0 || ffn_dim <= 0 ||
      context_length <= 0)
    fail("all sizes must be positive (" + summary() + ")");
  if (dim % n_heads != 0) fail("embedding_length " + std::to_string(dim) + " is not divisible by head_count " +
                               std::to_string(n_heads));
  if (head_dim() % 2 != 0) fail("head dimension must be even for rotary embeddings");
  if (n_heads % n_kv_heads != 0)
    fail("head_count " + std::to_string(n_heads) + " is not a multiple of head_count_kv " + std::to_string(n_kv_heads));
  if (!(rope_theta > 0)) fail("rope.freq_base must be > 0");
  if (!(norm_eps > 0)) fail("layer_norm_rms_epsilon must be > 0");
}

std::string LlamaConfig::summary() const {
  return "llama dim=" + std::to_string(dim) + " layers=" + std::to_string(n_layers) + " heads=" +
         std::to_string(n_heads) + "/" + std::to_string(n_kv_heads) + " ffn=" + std::to_string(ffn_dim) +
         " vocab=" + std::to_string(vocab_size) + " ctx=" + std::to_string(context_length) +
         (tied_embeddings ? " tied" : " untied");
}

}  // namespace fedlora::lora
