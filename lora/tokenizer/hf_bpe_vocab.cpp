#include "lora/tokenizer/hf_bpe_vocab.h"

#include <map>
#include <nlohmann/json.hpp>

#include "lora/tokenizer/gguf_vocab.h"
#include "lora/tokenizer/tokenizer_error.h"

namespace fedlora::lora {
namespace {

using nlohmann::json;

// The Split regexes exactly as Llama-3 and Qwen2 tokenizer.json files spell them.
constexpr std::string_view kLlama3Regex =
    R"re((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)re";
constexpr std::string_view kQwen2Regex =
    R"re((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)re";

std::string type_of(const json& j) {
  if (!j.is_object() || !j.contains("type") || !j["type"].is_string()) return "?";
  return j["type"].get<std::string>();
}

bool byte_level(const json& p, bool use_regex) {
  if (type_of(p) != "ByteLevel") return false;
  if (p.value("add_prefix_space", false)) return false;
  return p.value("use_regex", true) == use_regex;
}

// llama.cpp's pre-tokenizer name for the structure of `pre`, or "" if unknown.
std::string identify_pre(const json& pre) {
  if (type_of(pre) != "Sequence" || !pre.contains("pretokenizers") || !pre["pretokenizers"].is_array() ||
      pre["pretokenizers"].size() != 2)
    return "";
  const json& a = pre["pretokenizers"][0];
  const json& b = pre["pretokenizers"][1];
  if (type_of(a) == "Digits" && a.value("individual_digits", false) && byte_level(b, true)) return "smollm";
  if (type_of(a) == "Split" && byte_level(b, false) && a.contains("pattern") && a["pattern"].is_object() &&
      a["pattern"].contains("Regex") && a["pattern"]["Regex"].is_string() && a.value("behavior", "") == "Isolated" &&
      !a.value("invert", false)) {
    const auto re = a["pattern"]["Regex"].get<std::string>();
    if (re == kLlama3Regex) return "llama-bpe";
    if (re == kQwen2Regex) return "qwen2";
  }
  return "";
}

}  // namespace

BpeVocab parse_hf_tokenizer_json(std::string_view text, int64_t vocab_size, std::string_view source) {
  const std::string src(source);
  auto fail = [&](const std::string& why) -> void { throw TokenizerError(src + ": " + why); };
  json j;
  try {
    j = json::parse(text.begin(), text.end());
  } catch (const json::exception& e) {
    throw TokenizerError(src + ": not valid JSON: " + e.what());
  }
  if (!j.is_object()) fail("top level must be a JSON object");
  if (!j.contains("model") || !j["model"].is_object()) fail("key 'model' is missing or not an object");
  const json& model = j["model"];
  if (type_of(model) != "BPE") fail("model.type is '" + type_of(model) + "'; only byte-level BPE can be imported");
  if (model.value("byte_fallback", false))
    fail("model.byte_fallback is true (a SentencePiece-style tokenizer.json); put its tokenizer.model in the directory");
  if (!j.contains("decoder") || type_of(j["decoder"]) != "ByteLevel")
    fail("decoder.type is not 'ByteLevel'; only byte-level BPE can be imported");
  if (j.contains("normalizer") && !j["normalizer"].is_null()) {
    const json& n = j["normalizer"];
    if (!(type_of(n) == "NFC" && n.size() == 1)) fail("normalizer " + n.dump() + " is not supported (only null or NFC)");
  }
  BpeVocab v;
  v.pre = j.contains("pre_tokenizer") ? identify_pre(j["pre_tokenizer"]) : "";
  if (v.pre.empty())
    fail("unknown pre_tokenizer " + (j.contains("pre_tokenizer") ? j["pre_tokenizer"].dump().substr(0, 300) : "(none)") +
         "; supported: SmolLM2 (Digits + ByteLevel), Llama-3 and Qwen2 (Split regex + ByteLevel)");
  if ((v.pre == "qwen2") != (j.contains("normalizer") && !j["normalizer"].is_null()))
    fail("normalizer does not match the " + v.pre + " pre-tokenizer (Qwen2 uses NFC, the others none)");
  if (vocab_size <= 0 || vocab_size > (int64_t{1} << 24)) fail("vocab_size " + std::to_string(vocab_size) + " out of range");

  std::vector<std::string> tokens(static_cast<size_t>(vocab_size));
  std::vector<int32_t> types(static_cast<size_t>(vocab_size), 0);
  auto put = [&](const std::string& tok, const json& id_json, int32_t type, const std::string& where) {
    if (!id_json.is_number_integer()) fail(where + " id of '" + tok + "' is not an integer");
    const int64_t id = id_json.get<int64_t>();
    if (id < 0 || id >= vocab_size)
      fail(where + " id " + std::to_string(id) + " of '" + tok + "' is outside [0, " + std::to_string(vocab_size) +
           ") (config.json vocab_size)");
    auto& slot = tokens[static_cast<size_t>(id)];
    if (types[static_cast<size_t>(id)] != 0 && slot != tok)
      fail(where + " id " + std::to_string(id) + " is given to both '" + slot + "' and '" + tok + "'");
    if (tok.empty()) fail(where + " token " + std::to_string(id) + " is empty");
    slot = tok;
    types[static_cast<size_t>(id)] = type;
  };
  if (!model.contains("vocab") || !model["vocab"].is_object()) fail("model.vocab is missing or not an object");
  for (const auto& [tok, id] : model["vocab"].items()) put(tok, id, 1, "model.vocab");
  if (j.contains("added_tokens")) {
    if (!j["added_tokens"].is_array()) fail("added_tokens is not a list");
    for (const auto& a : j["added_tokens"]) {
      if (!a.is_object() || !a.contains("content") || !a["content"].is_string() || !a.contains("id"))
        fail("added_tokens entry " + a.dump() + " lacks content or id");
      put(a["content"].get<std::string>(), a["id"], a.value("special", false) ? 3 : 4, "added_tokens");
    }
  }
  for (int64_t i = 0; i < vocab_size; ++i) {
    if (types[static_cast<size_t>(i)] == 0) {  // as convert_hf_to_gguf: "[PAD{i}]", unused
      tokens[static_cast<size_t>(i)] = "[PAD" + std::to_string(i) + "]";
      types[static_cast<size_t>(i)] = 5;
    }
  }
  v.tokens = std::move(tokens);
  v.types = std::move(types);

  if (!model.contains("merges") || !model["merges"].is_array()) fail("model.merges is missing or not a list");
  size_t k = 0;
  for (const auto& m : model["merges"]) {
    std::string left, right;
    if (m.is_string()) {
      const auto s = m.get<std::string>();
      const auto sp = s.find(' ');
      if (sp == std::string::npos || s.find(' ', sp + 1) != std::string::npos) {
        fail("model.merges[" + std::to_string(k) + "] = '" + s + "' is not two tokens separated by one space");
      }
      left = s.substr(0, sp);
      right = s.substr(sp + 1);
    } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
      left = m[0].get<std::string>();
      right = m[1].get<std::string>();
    } else {
      fail("model.merges[" + std::to_string(k) + "] is neither \"a b\" nor [\"a\", \"b\"]");
    }
    if (left.empty() || right.empty() || left.find(' ') != std::string::npos || right.find(' ') != std::string::npos)
      fail("model.merges[" + std::to_string(k) + "] has an empty token or a token with a space");
    v.merges.push_back(left + " " + right);
    ++k;
  }
  return v;
}

void apply_hf_tokenizer_config(BpeVocab& v, std::string_view text, std::string_view source) {
  const std::string src(source);
  json j;
  try {
    j = json::parse(text.begin(), text.end());
  } catch (const json::exception& e) {
    throw TokenizerError(src + ": not valid JSON: " + e.what());
  }
  if (!j.is_object()) throw TokenizerError(src + ": top level must be a JSON object");
  if (j.contains("add_bos_token") && j["add_bos_token"].is_boolean()) v.add_bos = j["add_bos_token"].get<bool>();
  if (j.contains("add_eos_token") && j["add_eos_token"].is_boolean()) v.add_eos = j["add_eos_token"].get<bool>();
  auto special = [&](const char* key, std::optional<uint32_t>& out) {
    if (!j.contains(key) || j[key].is_null()) return;
    const json* t = &j[key];
    if (t->is_object() && t->contains("content")) t = &(*t)["content"];  // AddedToken form
    if (!t->is_string()) throw TokenizerError(src + ": key '" + key + "' is not a token string");
    const auto s = t->get<std::string>();
    for (size_t i = 0; i < v.tokens.size(); ++i)
      if (v.tokens[i] == s) {
        out = static_cast<uint32_t>(i);
        return;
      }
    throw TokenizerError(src + ": key '" + key + "' names '" + s + "', which is not in the vocabulary");
  };
  special("bos_token", v.bos_id);
  special("eos_token", v.eos_id);
  special("pad_token", v.pad_id);
}

void write_gguf_bpe_vocab(const BpeVocab& v, gguf::GgufWriter& w) {
  namespace k = gguf_keys;
  w.set(std::string(k::kModel), std::string("gpt2"));
  w.set(std::string(k::kPre), v.pre);
  w.set(std::string(k::kTokens), gguf::Array(v.tokens));
  w.set(std::string(k::kTokenType), gguf::Array(v.types));
  w.set("tokenizer.ggml.merges", gguf::Array(v.merges));
  if (v.bos_id) w.set(std::string(k::kBosId), *v.bos_id);
  if (v.eos_id) w.set(std::string(k::kEosId), *v.eos_id);
  if (v.pad_id) w.set(std::string(k::kPadId), *v.pad_id);
  if (v.add_bos) w.set(std::string(k::kAddBos), *v.add_bos);
  if (v.add_eos) w.set(std::string(k::kAddEos), *v.add_eos);
}

BpeVocab read_gguf_bpe_vocab(const gguf::GgufFile& f) {
  namespace k = gguf_keys;
  const std::string where = "GGUF BPE vocabulary in " + f.source() + ": ";
  const auto model = f.find_string(k::kModel);
  if (!model || *model != "gpt2")
    throw TokenizerError(where + "tokenizer.ggml.model is '" + model.value_or("(missing)") + "', expected 'gpt2'");
  for (std::string_view key : {k::kTokens, k::kTokenType, k::kPre, std::string_view("tokenizer.ggml.merges")})
    if (!f.find(key)) throw TokenizerError(where + "key " + std::string(key) + " is missing");
  BpeVocab v;
  v.tokens = f.get_string_array(k::kTokens);
  v.types = f.get_i32_array(k::kTokenType);
  v.merges = f.get_string_array("tokenizer.ggml.merges");
  v.pre = f.get_string(k::kPre);
  if (v.types.size() != v.tokens.size())
    throw TokenizerError(where + "token_type has " + std::to_string(v.types.size()) + " entries for " +
                         std::to_string(v.tokens.size()) + " tokens");
  auto id = [&](std::string_view key, std::optional<uint32_t>& out) {
    out = f.find_u32(key);
    if (out && *out >= v.tokens.size())
      throw TokenizerError(where + std::string(key) + " = " + std::to_string(*out) + " is not a token id");
  };
  id(k::kBosId, v.bos_id);
  id(k::kEosId, v.eos_id);
  id(k::kPadId, v.pad_id);
  v.add_bos = f.find_bool(k::kAddBos);
  v.add_eos = f.find_bool(k::kAddEos);
  return v;
}

}  // namespace fedlora::lora
