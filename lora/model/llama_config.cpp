#include "lora/model/llama_config.h"

#include "lora/format/gguf_reader.h"
#include "lora/format/gguf_writer.h"
#include "lora/model/gguf_names.h"

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

namespace {
int64_t need_uint(const gguf::GgufFile& f, const std::string& key) {
  return static_cast<int64_t>(f.get_uint(key));
}
}  // namespace

LlamaConfig read_llama_config(const gguf::GgufFile& f) {
  const std::string arch = f.get_string("general.architecture");
  if (arch != "llama")
    throw gguf::FormatError(f.source() + ": general.architecture is '" + arch + "', only 'llama' is supported");
  LlamaConfig c;
  c.dim = need_uint(f, "llama.embedding_length");
  c.n_layers = need_uint(f, "llama.block_count");
  c.n_heads = need_uint(f, "llama.attention.head_count");
  c.n_kv_heads = f.find_uint("llama.attention.head_count_kv").value_or(static_cast<uint64_t>(c.n_heads));
  c.ffn_dim = need_uint(f, "llama.feed_forward_length");
  c.context_length = need_uint(f, "llama.context_length");
  c.rope_theta = f.find_f32("llama.rope.freq_base").value_or(10000.0f);
  c.norm_eps = f.get_f32("llama.attention.layer_norm_rms_epsilon");
  if (auto v = f.find_uint("llama.vocab_size")) {
    c.vocab_size = static_cast<int64_t>(*v);
  } else if (auto toks = f.find_string_array("tokenizer.ggml.tokens")) {
    c.vocab_size = static_cast<int64_t>(toks->size());
  } else {
    const auto* emb = f.find_tensor(kTokenEmbdName);
    if (!emb || emb->dims.size() != 2) throw gguf::FormatError(f.source() + ": cannot tell the vocabulary size");
    c.vocab_size = static_cast<int64_t>(emb->dims[1]);
  }
  c.tied_embeddings = f.find_tensor(kOutputName) == nullptr;
  // validate() first: head_dim() divides by head_count, which may be 0 in a malformed file.
  c.validate();
  if (auto rd = f.find_uint("llama.rope.dimension_count"); rd && *rd != static_cast<uint64_t>(c.head_dim()))
    throw ModelConfigError(f.source() + ": llama.rope.dimension_count " + std::to_string(*rd) +
                           " != head dimension " + std::to_string(c.head_dim()) + " (partial RoPE is not supported)");
  return c;
}

AdapterLayout make_adapter_layout(const LlamaConfig& cfg, int rank, float alpha, std::vector<TargetModule> targets) {
  std::vector<std::pair<TargetModule, ProjectionShape>> shapes;
  for (TargetModule m : kAllTargetModules) shapes.emplace_back(m, cfg.projection(m));
  return AdapterLayout(static_cast<int>(cfg.n_layers), rank, alpha, std::move(targets), shapes);
}

uint32_t llama_file_type(GgmlType t) {
  switch (t) {
    case GgmlType::F32: return 0;
    case GgmlType::F16: return 1;
    case GgmlType::Q4_0: return 2;
    case GgmlType::Q8_0: return 7;
    default: throw ModelConfigError("unsupported weight type for a base model: use f32, f16, q8_0 or q4_0");
  }
}

void write_llama_metadata(gguf::GgufWriter& w, const LlamaConfig& c, const std::string& name, GgmlType weight_type) {
  w.set("general.architecture", std::string("llama"));
  w.set("general.name", name);
  w.set("general.file_type", llama_file_type(weight_type));
  w.set("llama.vocab_size", static_cast<uint32_t>(c.vocab_size));
  w.set("llama.context_length", static_cast<uint32_t>(c.context_length));
  w.set("llama.embedding_length", static_cast<uint32_t>(c.dim));
  w.set("llama.block_count", static_cast<uint32_t>(c.n_layers));
  w.set("llama.feed_forward_length", static_cast<uint32_t>(c.ffn_dim));
  w.set("llama.attention.head_count", static_cast<uint32_t>(c.n_heads));
  w.set("llama.attention.head_count_kv", static_cast<uint32_t>(c.n_kv_heads));
  w.set("llama.rope.dimension_count", static_cast<uint32_t>(c.head_dim()));
  w.set("llama.rope.freq_base", c.rope_theta);
  w.set("llama.attention.layer_norm_rms_epsilon", c.norm_eps);
}

}  // namespace fedlora::lora
