#pragma once
// Writes small Hugging Face checkpoint directories by an independent route: safetensors
// bytes assembled here by hand (8-byte length, JSON header from nlohmann-json, raw
// little-endian data; F16 through the compiler's _Float16, BF16 as the top half of the
// float bits), config.json / tokenizer.json from nlohmann-json, and tokenizer.model from a
// minimal protobuf encoder. Nothing here uses fedlora's writers.
#include <nlohmann/json.hpp>

#include <bit>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace fedlora::lora::test {

enum class HfDtype { F32, F16, BF16 };

/// A named row-major tensor ([out, in] for a Linear weight).
struct HfTensor {
  std::string name;
  std::vector<int64_t> shape;
  std::vector<float> values;
};

/// Hand-chosen values k/128 with k in [-15, 15]: exact in F32, F16 and BF16, so all three
/// encodings describe the same model.
inline std::vector<float> hand_values(int64_t n, int seed, float offset = 0.0f) {
  std::vector<float> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[static_cast<size_t>(i)] = offset + static_cast<float>(((i * 37 + seed * 101 + (i / 7) * 13) % 31) - 15) / 128.0f;
  return v;
}

inline std::string safetensors_bytes(const std::vector<HfTensor>& ts, HfDtype dt) {
  const size_t es = dt == HfDtype::F32 ? 4 : 2;
  const char* dname = dt == HfDtype::F32 ? "F32" : dt == HfDtype::F16 ? "F16" : "BF16";
  nlohmann::json header = nlohmann::json::object();
  std::string data;
  for (const auto& t : ts) {
    const size_t begin = data.size();
    for (float f : t.values) {
      if (dt == HfDtype::F32) {
        data.append(reinterpret_cast<const char*>(&f), 4);
      } else if (dt == HfDtype::F16) {
        const _Float16 h = static_cast<_Float16>(f);
        if (static_cast<float>(h) != f) throw std::logic_error("fixture value not exact in f16");
        data.append(reinterpret_cast<const char*>(&h), 2);
      } else {
        const uint32_t bits = std::bit_cast<uint32_t>(f);
        if (bits & 0xFFFFu) throw std::logic_error("fixture value not exact in bf16");
        const uint16_t hi = static_cast<uint16_t>(bits >> 16);
        data.append(reinterpret_cast<const char*>(&hi), 2);
      }
    }
    header[t.name] = {{"dtype", dname}, {"shape", t.shape}, {"data_offsets", {begin, begin + t.values.size() * es}}};
  }
  std::string h = header.dump();
  while (h.size() % 8) h += ' ';
  std::string out(8, '\0');
  const uint64_t n = h.size();
  std::memcpy(out.data(), &n, 8);
  return out + h + data;
}

inline void write_file(const std::filesystem::path& p, const std::string& bytes) {
  std::ofstream f(p, std::ios::binary);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

/// Shape of the fixture model.
struct HfSpec {
  int64_t vocab = 40, dim = 64, layers = 2, heads = 4, kv_heads = 2, ffn = 96, max_pos = 32;
  double theta = 1000.0, eps = 1e-5;
  bool tied = false;
  bool store_lm_head_when_tied = false;
};

inline nlohmann::json hf_config_json(const HfSpec& s) {
  return {{"architectures", {"LlamaForCausalLM"}},
          {"model_type", "llama"},
          {"hidden_size", s.dim},
          {"intermediate_size", s.ffn},
          {"num_hidden_layers", s.layers},
          {"num_attention_heads", s.heads},
          {"num_key_value_heads", s.kv_heads},
          {"max_position_embeddings", s.max_pos},
          {"rms_norm_eps", s.eps},
          {"rope_theta", s.theta},
          {"rope_scaling", nullptr},
          {"attention_bias", false},
          {"mlp_bias", false},
          {"hidden_act", "silu"},
          {"tie_word_embeddings", s.tied},
          {"vocab_size", s.vocab},
          {"bos_token_id", 1},
          {"eos_token_id", 2},
          {"torch_dtype", "float32"}};
}

/// The HF tensors of the fixture model (names as transformers' LlamaForCausalLM).
inline std::vector<HfTensor> hf_tensors(const HfSpec& s) {
  std::vector<HfTensor> t;
  int seed = 1;
  auto mat = [&](std::string name, int64_t r, int64_t c) { t.push_back({std::move(name), {r, c}, hand_values(r * c, seed++)}); };
  auto vec = [&](std::string name, int64_t n) { t.push_back({std::move(name), {n}, hand_values(n, seed++, 1.0f)}); };
  const int64_t hd = s.dim / s.heads;
  mat("model.embed_tokens.weight", s.vocab, s.dim);
  for (int64_t l = 0; l < s.layers; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    vec(p + "input_layernorm.weight", s.dim);
    mat(p + "self_attn.q_proj.weight", s.dim, s.dim);
    mat(p + "self_attn.k_proj.weight", s.kv_heads * hd, s.dim);
    mat(p + "self_attn.v_proj.weight", s.kv_heads * hd, s.dim);
    mat(p + "self_attn.o_proj.weight", s.dim, s.dim);
    vec(p + "post_attention_layernorm.weight", s.dim);
    mat(p + "mlp.gate_proj.weight", s.ffn, s.dim);
    mat(p + "mlp.up_proj.weight", s.ffn, s.dim);
    mat(p + "mlp.down_proj.weight", s.dim, s.ffn);
  }
  vec("model.norm.weight", s.dim);
  if (!s.tied) mat("lm_head.weight", s.vocab, s.dim);
  if (s.tied && s.store_lm_head_when_tied) t.push_back({"lm_head.weight", {s.vocab, s.dim}, t.front().values});
  return t;
}

// Minimal protobuf encoder (https://protobuf.dev/programming-guides/encoding/).
inline std::string pb_varint(uint64_t v) {
  std::string s;
  while (v >= 0x80) {
    s += static_cast<char>((v & 0x7F) | 0x80);
    v >>= 7;
  }
  return s + static_cast<char>(v);
}
inline std::string pb_key(int field, int wire) { return pb_varint(static_cast<uint64_t>(field) << 3 | wire); }
inline std::string pb_len(int field, const std::string& b) { return pb_key(field, 2) + pb_varint(b.size()) + b; }
inline std::string pb_int(int field, int64_t v) { return pb_key(field, 0) + pb_varint(static_cast<uint64_t>(v)); }
inline std::string pb_float(int field, float f) {
  std::string s = pb_key(field, 5);
  s.append(reinterpret_cast<const char*>(&f), 4);
  return s;
}

/// A SentencePiece BPE ModelProto: <unk> <s> </s> then `pieces` (type normal, descending
/// scores), no byte fallback, identity normaliser with add_dummy_prefix.
inline std::string spm_model_bytes(const std::vector<std::string>& pieces) {
  std::string m;
  auto piece = [&](const std::string& p, float score, int type) {
    m += pb_len(1, pb_len(1, p) + pb_float(2, score) + pb_int(3, type));
  };
  piece("<unk>", 0, 2);
  piece("<s>", 0, 3);
  piece("</s>", 0, 3);
  for (size_t i = 0; i < pieces.size(); ++i) piece(pieces[i], -static_cast<float>(i), 1);
  m += pb_len(2, pb_int(3, 2) + pb_int(40, 0) + pb_int(41, 1) + pb_int(42, 2));  // BPE, unk/bos/eos
  m += pb_len(3, pb_len(1, "identity") + pb_int(3, 1) + pb_int(4, 0) + pb_int(5, 1));
  return m;
}

/// A SmolLM2-style byte-level BPE tokenizer.json: `vocab` tokens in id order, `merges`,
/// added special tokens at the given ids.
inline nlohmann::json bpe_tokenizer_json(const std::vector<std::string>& vocab, const std::vector<std::string>& merges,
                                         const std::map<int, std::string>& specials) {
  nlohmann::json v = nlohmann::json::object();
  for (size_t i = 0; i < vocab.size(); ++i) v[vocab[i]] = i;
  nlohmann::json added = nlohmann::json::array();
  for (const auto& [id, s] : specials) added.push_back({{"id", id}, {"content", s}, {"special", true}});
  return {{"version", "1.0"},
          {"added_tokens", added},
          {"normalizer", nullptr},
          {"pre_tokenizer",
           {{"type", "Sequence"},
            {"pretokenizers",
             {{{"type", "Digits"}, {"individual_digits", true}},
              {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", true}}}}}},
          {"decoder", {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", true}, {"use_regex", true}}},
          {"model",
           {{"type", "BPE"}, {"dropout", nullptr}, {"unk_token", nullptr}, {"byte_fallback", false},
            {"vocab", v}, {"merges", merges}}}};
}

/// Writes config.json, the weights (one file, or `shards` files plus the index) and a
/// SentencePiece tokenizer.model into `dir`. Returns the tensors written.
inline std::vector<HfTensor> write_hf_checkpoint(const std::filesystem::path& dir, const HfSpec& s, HfDtype dt,
                                                 int shards = 1) {
  std::filesystem::create_directories(dir);
  write_file(dir / "config.json", hf_config_json(s).dump(2));
  auto ts = hf_tensors(s);
  if (shards == 1) {
    write_file(dir / "model.safetensors", safetensors_bytes(ts, dt));
  } else {
    nlohmann::json map = nlohmann::json::object();
    for (int k = 0; k < shards; ++k) {
      std::vector<HfTensor> part;
      for (size_t i = k; i < ts.size(); i += shards) part.push_back(ts[i]);
      char name[64];
      std::snprintf(name, sizeof name, "model-%05d-of-%05d.safetensors", k + 1, shards);
      for (const auto& t : part) map[t.name] = name;
      write_file(dir / name, safetensors_bytes(part, dt));
    }
    write_file(dir / "model.safetensors.index.json",
               nlohmann::json{{"metadata", {{"total_size", 0}}}, {"weight_map", map}}.dump(2));
  }
  write_file(dir / "tokenizer.model", spm_model_bytes({"\xE2\x96\x81", "a", "b", "c", "\xE2\x96\x81" "a", "ab"}));
  return ts;
}

}  // namespace fedlora::lora::test
