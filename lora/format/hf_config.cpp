#include "lora/format/hf_config.h"

#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>

namespace fedlora::lora::hf {
namespace {

using nlohmann::json;

struct Reader {
  const json& j;
  std::string src;

  [[noreturn]] void fail(const std::string& key, const std::string& why) const {
    throw HfImportError(src + ": key '" + key + "' " + why);
  }
  const json* find(const std::string& key) const {
    auto it = j.find(key);
    return it == j.end() ? nullptr : &*it;
  }
  int64_t integer(const std::string& key, std::optional<int64_t> fallback) const {
    const json* v = find(key);
    if (!v || v->is_null()) {
      if (!fallback) throw HfImportError(src + ": required key '" + key + "' is missing");
      return *fallback;
    }
    if (!v->is_number_integer()) fail(key, "must be an integer, got " + v->dump());
    if (v->is_number_unsigned() && v->get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int32_t>::max()))
      fail(key, "is too large: " + v->dump());
    const int64_t x = v->get<int64_t>();
    if (x <= 0 || x > std::numeric_limits<int32_t>::max()) fail(key, "must be a positive integer, got " + v->dump());
    return x;
  }
  double number(const std::string& key, double fallback) const {
    const json* v = find(key);
    if (!v || v->is_null()) return fallback;
    if (!v->is_number()) fail(key, "must be a number, got " + v->dump());
    const double x = v->get<double>();
    if (!(x > 0) || x > 1e30) fail(key, "must be a positive finite number, got " + v->dump());
    return x;
  }
  bool boolean(const std::string& key, bool fallback) const {
    const json* v = find(key);
    if (!v || v->is_null()) return fallback;
    if (!v->is_boolean()) fail(key, "must be true or false, got " + v->dump());
    return v->get<bool>();
  }
  std::optional<int64_t> token_id(const std::string& key) const {
    const json* v = find(key);
    if (!v || v->is_null()) return std::nullopt;
    if (v->is_array() && !v->empty()) v = &(*v)[0];  // eos_token_id may be a list
    if (!v->is_number_integer() || v->get<int64_t>() < 0) fail(key, "must be a non-negative token id, got " + v->dump());
    return v->get<int64_t>();
  }
};

}  // namespace

HfLlamaConfig parse_hf_config(std::string_view text, std::string_view source) {
  const std::string src(source);
  json j;
  try {
    j = json::parse(text.begin(), text.end());
  } catch (const json::exception& e) {
    throw HfImportError(src + ": not valid JSON: " + e.what());
  }
  if (!j.is_object()) throw HfImportError(src + ": top level must be a JSON object");
  Reader r{j, src};

  // Architecture: architectures[] (written by save_pretrained) or, failing that, model_type.
  if (const json* a = r.find("architectures"); a && !a->is_null()) {
    if (!a->is_array() || a->size() != 1 || !(*a)[0].is_string())
      r.fail("architectures", "must be a list of one string, got " + a->dump());
    const auto arch = (*a)[0].get<std::string>();
    if (arch != "LlamaForCausalLM")
      r.fail("architectures", "is '" + arch + "'; only LlamaForCausalLM can be imported");
  }
  if (const json* m = r.find("model_type"); m && !m->is_null()) {
    if (!m->is_string() || m->get<std::string>() != "llama")
      r.fail("model_type", "is " + m->dump() + "; only \"llama\" can be imported");
  } else if (!r.find("architectures")) {
    throw HfImportError(src + ": neither 'architectures' nor 'model_type' says this is a Llama model");
  }

  // Features the decoder does not implement.
  if (const json* v = r.find("rope_scaling"); v && !v->is_null())
    r.fail("rope_scaling", "is " + v->dump() + "; RoPE scaling is not implemented (only plain RoPE)");
  if (r.boolean("attention_bias", false)) r.fail("attention_bias", "is true; projection biases are not implemented");
  if (r.boolean("mlp_bias", false)) r.fail("mlp_bias", "is true; MLP biases are not implemented");
  if (const json* v = r.find("sliding_window"); v && !v->is_null())
    r.fail("sliding_window", "is " + v->dump() + "; sliding-window attention is not implemented");
  if (r.boolean("use_sliding_window", false))
    r.fail("use_sliding_window", "is true; sliding-window attention is not implemented");
  if (const json* v = r.find("hidden_act"); v && !v->is_null() && (!v->is_string() || v->get<std::string>() != "silu"))
    r.fail("hidden_act", "is " + v->dump() + "; only \"silu\" (SwiGLU) is implemented");
  if (const json* v = r.find("partial_rotary_factor"); v && !v->is_null() && (!v->is_number() || v->get<double>() != 1.0))
    r.fail("partial_rotary_factor", "is " + v->dump() + "; partial RoPE is not implemented");

  HfLlamaConfig c;
  c.hidden_size = r.integer("hidden_size", std::nullopt);
  c.intermediate_size = r.integer("intermediate_size", std::nullopt);
  c.num_hidden_layers = r.integer("num_hidden_layers", std::nullopt);
  c.num_attention_heads = r.integer("num_attention_heads", std::nullopt);
  c.num_key_value_heads = r.integer("num_key_value_heads", c.num_attention_heads);
  c.vocab_size = r.integer("vocab_size", std::nullopt);
  c.max_position_embeddings = r.integer("max_position_embeddings", 2048);
  c.rms_norm_eps = r.number("rms_norm_eps", 1e-6);
  c.rope_theta = r.number("rope_theta", 10000.0);
  c.tie_word_embeddings = r.boolean("tie_word_embeddings", false);
  c.bos_token_id = r.token_id("bos_token_id");
  c.eos_token_id = r.token_id("eos_token_id");

  if (c.hidden_size % c.num_attention_heads != 0)
    r.fail("num_attention_heads", "(" + std::to_string(c.num_attention_heads) + ") does not divide hidden_size (" +
                                      std::to_string(c.hidden_size) + ")");
  if (c.num_attention_heads % c.num_key_value_heads != 0)
    r.fail("num_key_value_heads", "(" + std::to_string(c.num_key_value_heads) +
                                      ") does not divide num_attention_heads (" +
                                      std::to_string(c.num_attention_heads) + ")");
  if (c.head_dim() % 2 != 0) r.fail("num_attention_heads", "gives an odd head dimension; RoPE needs an even one");
  if (const json* v = r.find("head_dim"); v && !v->is_null()) {
    if (!v->is_number_integer() || v->get<int64_t>() != c.head_dim())
      r.fail("head_dim", "is " + v->dump() + " but hidden_size / num_attention_heads = " +
                             std::to_string(c.head_dim()) + "; a separate head_dim is not implemented");
  }
  return c;
}

std::string read_text_file(const std::filesystem::path& path, std::size_t max_bytes) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw HfImportError("cannot read " + path.string());
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  if (ec) throw HfImportError("cannot read " + path.string() + ": " + ec.message());
  if (size > max_bytes)
    throw HfImportError(path.string() + " is " + std::to_string(size) + " bytes, more than the limit of " +
                        std::to_string(max_bytes));
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

HfLlamaConfig load_hf_config(const std::filesystem::path& path) {
  return parse_hf_config(read_text_file(path, 16u << 20), path.string());
}

}  // namespace fedlora::lora::hf
