#include "lora/model/hf_import.h"

#include <cstring>
#include <numeric>
#include <set>
#include <stdexcept>

#include "lora/format/gguf_writer.h"
#include "lora/format/hf_checkpoint.h"
#include "lora/model/base_model.h"
#include "lora/model/gguf_names.h"
#include "lora/quant/quantized_tensor.h"
#include "lora/tokenizer/gguf_vocab.h"
#include "lora/tokenizer/hf_bpe_vocab.h"
#include "lora/tokenizer/spm_model_file.h"
#include "lora/tokenizer/tokenizer_error.h"

namespace fedlora::lora {

namespace fs = std::filesystem;
using hf::HfImportError;

LlamaConfig llama_config_from_hf(const hf::HfLlamaConfig& h) {
  LlamaConfig c;
  c.vocab_size = h.vocab_size;
  c.dim = h.hidden_size;
  c.n_layers = h.num_hidden_layers;
  c.n_heads = h.num_attention_heads;
  c.n_kv_heads = h.num_key_value_heads;
  c.ffn_dim = h.intermediate_size;
  c.context_length = h.max_position_embeddings;
  c.rope_theta = static_cast<float>(h.rope_theta);
  c.norm_eps = static_cast<float>(h.rms_norm_eps);
  c.tied_embeddings = h.tie_word_embeddings;
  c.validate();
  return c;
}

namespace {

std::string hf_projection_name(int l, TargetModule m) {
  static constexpr const char* kName[] = {"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj",
                                          "self_attn.o_proj", "mlp.gate_proj",    "mlp.up_proj",
                                          "mlp.down_proj"};
  return "model.layers." + std::to_string(l) + "." + kName[static_cast<int>(m)] + ".weight";
}

// Adds the tokenizer keys; returns (description, tokens defined by the files).
std::pair<std::string, int64_t> add_tokenizer(const fs::path& dir, const hf::HfLlamaConfig& hc,
                                              gguf::GgufWriter& w) {
  const fs::path spm = dir / "tokenizer.model", tj = dir / "tokenizer.json", tc = dir / "tokenizer_config.json";
  std::optional<std::string> tc_text;
  if (fs::exists(tc)) tc_text = hf::read_text_file(tc, 64u << 20);
  if (fs::exists(spm)) {
    SpmVocabSpec spec = load_spm_model(spm).spec();
    const int64_t n = static_cast<int64_t>(spec.pieces.size());
    if (n > hc.vocab_size)
      throw HfImportError(spm.string() + " has " + std::to_string(n) + " pieces, more than config.json vocab_size " +
                          std::to_string(hc.vocab_size));
    for (int64_t i = n; i < hc.vocab_size; ++i) {  // as convert_hf_to_gguf pads: "[PAD{i}]", unused
      spec.pieces.push_back("[PAD" + std::to_string(i) + "]");
      spec.scores.push_back(-1000.0f);
      spec.types.push_back(TokenType::unused);
    }
    if (tc_text) {
      BpeVocab flags;
      flags.tokens = spec.pieces;
      apply_hf_tokenizer_config(flags, *tc_text, tc.string());
      if (flags.add_bos) spec.add_bos = *flags.add_bos;
      if (flags.add_eos) spec.add_eos = *flags.add_eos;
    }
    write_gguf_vocab(SpmVocab(std::move(spec)), w);
    return {"llama", n};
  }
  if (fs::exists(tj)) {
    BpeVocab v = parse_hf_tokenizer_json(hf::read_text_file(tj, 256u << 20), hc.vocab_size, tj.string());
    int64_t defined = 0;
    for (int32_t t : v.types) defined += t != 5;
    if (hc.bos_token_id && *hc.bos_token_id < hc.vocab_size) v.bos_id = static_cast<uint32_t>(*hc.bos_token_id);
    if (hc.eos_token_id && *hc.eos_token_id < hc.vocab_size) v.eos_id = static_cast<uint32_t>(*hc.eos_token_id);
    if (tc_text) apply_hf_tokenizer_config(v, *tc_text, tc.string());
    write_gguf_bpe_vocab(v, w);
    return {"gpt2/" + v.pre, defined};
  }
  throw HfImportError(dir.string() + ": no tokenizer.model (SentencePiece) or tokenizer.json (byte-level BPE)");
}

}  // namespace

HfImportReport import_hf_checkpoint(const fs::path& dir, const fs::path& out, const HfImportOptions& opt) {
  if (!fs::is_directory(dir)) throw HfImportError(dir.string() + " is not a directory");
  const auto hc = hf::load_hf_config(dir / "config.json");
  LlamaConfig cfg = llama_config_from_hf(hc);
  if (opt.context_length < 0 || opt.context_length > hc.max_position_embeddings)
    throw HfImportError("context length " + std::to_string(opt.context_length) + " is outside [1, " +
                        std::to_string(hc.max_position_embeddings) + "] (config.json max_position_embeddings)");
  if (opt.context_length > 0) cfg.context_length = opt.context_length;
  const auto traits = supported_type_traits(static_cast<uint32_t>(opt.type));
  if (!traits) throw HfImportError("unsupported weight type");
  for (auto [what, n] : {std::pair{"hidden_size", cfg.dim}, std::pair{"intermediate_size", cfg.ffn_dim}})
    if (n % traits->block_elems != 0)
      throw HfImportError(std::string(what) + " " + std::to_string(n) + " is not a multiple of " +
                          std::to_string(traits->block_elems) + ", which " + std::string(traits->name) +
                          " rows need; choose --type f16");

  const auto ck = hf::HfCheckpoint::open(dir);
  // Refuse extra weights (biases, ...) before converting anything.
  std::set<std::string> expected = {"model.embed_tokens.weight", "model.norm.weight", "lm_head.weight"};
  for (int l = 0; l < cfg.n_layers; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    expected.insert(p + "input_layernorm.weight");
    expected.insert(p + "post_attention_layernorm.weight");
    for (TargetModule m : kAllTargetModules) expected.insert(hf_projection_name(l, m));
  }
  for (const auto& n : ck.names())
    if (!expected.count(n) && n.find("rotary_emb.inv_freq") == std::string::npos)  // llama.cpp skips inv_freq too
      throw HfImportError(dir.string() + ": unexpected tensor " + n +
                          " (biases and other extra weights are not implemented)");

  gguf::GgufWriter w;
  std::string name = opt.name.empty() ? fs::absolute(dir).lexically_normal().filename().string() : opt.name;
  if (name.empty()) name = fs::absolute(dir).lexically_normal().parent_path().filename().string();
  write_llama_metadata(w, cfg, name.empty() ? "hf-import" : name, opt.type);
  w.set("general.source.format", std::string("huggingface-safetensors"));
  HfImportReport rep;
  std::tie(rep.tokenizer, rep.tokenizer_size) = add_tokenizer(dir, hc, w);

  auto load = [&](const std::string& hf_name, std::vector<int64_t> shape) {
    if (!ck.has(hf_name)) throw HfImportError(dir.string() + ": checkpoint has no tensor " + hf_name);
    const auto& s = ck.shape(hf_name);
    if (s.size() != shape.size() || !std::equal(s.begin(), s.end(), shape.begin(),
                                                [](uint64_t a, int64_t b) { return a == static_cast<uint64_t>(b); })) {
      std::string want, got;
      for (auto d : shape) want += (want.empty() ? "" : ", ") + std::to_string(d);
      for (auto d : s) got += (got.empty() ? "" : ", ") + std::to_string(d);
      throw HfImportError(dir.string() + ": tensor " + hf_name + " has shape [" + got + "], config.json implies [" +
                          want + "]");
    }
    rep.parameters += std::accumulate(shape.begin(), shape.end(), int64_t{1}, std::multiplies<>());
    return ck.read_f32(hf_name);
  };
  auto matrix = [&](const std::string& gguf_name, const std::vector<float>& f, int64_t rows, int64_t cols) {
    auto q = QuantizedTensor::quantize(f.data(), rows, cols, opt.type);
    w.add_tensor(gguf_name, opt.type, {static_cast<uint64_t>(cols), static_cast<uint64_t>(rows)},
                 std::vector<std::byte>(q.bytes().begin(), q.bytes().end()));
  };
  auto norm = [&](const std::string& gguf_name, const std::string& hf_name) {
    auto f = load(hf_name, {cfg.dim});
    std::vector<std::byte> b(f.size() * 4);
    std::memcpy(b.data(), f.data(), b.size());
    w.add_tensor(gguf_name, GgmlType::F32, {static_cast<uint64_t>(cfg.dim)}, std::move(b));
  };

  matrix(kTokenEmbdName, load("model.embed_tokens.weight", {cfg.vocab_size, cfg.dim}), cfg.vocab_size, cfg.dim);
  if (!cfg.tied_embeddings) {
    matrix(kOutputName, load("lm_head.weight", {cfg.vocab_size, cfg.dim}), cfg.vocab_size, cfg.dim);
  }  // else: a tied checkpoint may still store lm_head.weight (the shared matrix); it is not needed
  norm(kOutputNormName, "model.norm.weight");
  for (int l = 0; l < cfg.n_layers; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    norm(gguf_attn_norm_name(l), p + "input_layernorm.weight");
    norm(gguf_ffn_norm_name(l), p + "post_attention_layernorm.weight");
    for (TargetModule m : kAllTargetModules) {
      const auto s = cfg.projection(m);
      auto f = load(hf_projection_name(l, m), {s.out_features, s.in_features});
      if (m == TargetModule::q) f = permute_rope_rows(f, s.out_features, s.in_features, cfg.n_heads);
      if (m == TargetModule::k) f = permute_rope_rows(f, s.out_features, s.in_features, cfg.n_kv_heads);
      matrix(gguf_projection_name(l, m), f, s.out_features, s.in_features);
    }
  }
  w.write(out);
  rep.config = cfg;
  rep.file_bytes = fs::file_size(out);
  return rep;
}

}  // namespace fedlora::lora
