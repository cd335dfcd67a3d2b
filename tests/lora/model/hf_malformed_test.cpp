// import-hf refuses malformed or unsupported config.json, safetensors and tokenizer files
// with an error that names the file and the key or tensor; it never crashes.
#include <gtest/gtest.h>

#include <functional>

#include "lora/format/hf_config.h"
#include "lora/format/safetensors.h"
#include "lora/model/hf_import.h"
#include "lora/tokenizer/hf_bpe_vocab.h"
#include "lora/tokenizer/tokenizer_error.h"
#include "tests/lora/model/hf_fixture.h"
#include "tests/support/temp_dir.h"

namespace fedlora::lora {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using test::HfDtype;
using test::HfSpec;

// Runs `f`, expects an exception of type E whose message contains every needle.
template <class E>
void expect_error(const std::function<void()>& f, std::vector<std::string> needles) {
  try {
    f();
    ADD_FAILURE() << "no exception; expected one mentioning " << needles.front();
  } catch (const E& e) {
    for (const auto& n : needles) EXPECT_NE(std::string(e.what()).find(n), std::string::npos) << e.what() << " / " << n;
  } catch (const std::exception& e) {
    ADD_FAILURE() << "wrong exception type: " << e.what();
  }
}

void expect_config_error(const std::function<void(json&)>& edit, std::vector<std::string> needles) {
  auto j = test::hf_config_json(HfSpec{});
  edit(j);
  expect_error<hf::HfImportError>([&] { hf::parse_hf_config(j.dump(), "cfg/config.json"); }, needles);
}

TEST(HfConfig, ParsesTheFixture) {
  auto c = hf::parse_hf_config(test::hf_config_json(HfSpec{}).dump());
  EXPECT_EQ(c.hidden_size, 64);
  EXPECT_EQ(c.num_key_value_heads, 2);
  EXPECT_EQ(c.max_position_embeddings, 32);
  EXPECT_DOUBLE_EQ(c.rope_theta, 1000.0);
  EXPECT_EQ(c.bos_token_id, 1);
}

TEST(HfConfig, DefaultsAreTransformersLlamaConfig) {
  json j = {{"model_type", "llama"}, {"hidden_size", 64}, {"intermediate_size", 96}, {"num_hidden_layers", 1},
            {"num_attention_heads", 4}, {"vocab_size", 10}};
  auto c = hf::parse_hf_config(j.dump());
  EXPECT_EQ(c.num_key_value_heads, 4);
  EXPECT_DOUBLE_EQ(c.rms_norm_eps, 1e-6);
  EXPECT_DOUBLE_EQ(c.rope_theta, 10000.0);
  EXPECT_EQ(c.max_position_embeddings, 2048);
  EXPECT_FALSE(c.tie_word_embeddings);
}

TEST(HfConfig, RefusesUnsupportedFeaturesNamingTheKey) {
  expect_config_error([](json& j) { j["rope_scaling"] = {{"rope_type", "llama3"}, {"factor", 32.0}}; },
                      {"cfg/config.json", "rope_scaling", "llama3"});
  expect_config_error([](json& j) { j["attention_bias"] = true; }, {"attention_bias"});
  expect_config_error([](json& j) { j["mlp_bias"] = true; }, {"mlp_bias"});
  expect_config_error([](json& j) { j["sliding_window"] = 4096; }, {"sliding_window"});
  expect_config_error([](json& j) { j["architectures"] = {"MistralForCausalLM"}; }, {"architectures", "Mistral"});
  expect_config_error([](json& j) { j["model_type"] = "qwen2"; }, {"model_type", "qwen2"});
  expect_config_error([](json& j) { j["hidden_act"] = "gelu"; }, {"hidden_act"});
  expect_config_error([](json& j) { j["head_dim"] = 32; }, {"head_dim"});
}

TEST(HfConfig, RefusesMissingWrongTypedAndInconsistentKeys) {
  expect_config_error([](json& j) { j.erase("hidden_size"); }, {"hidden_size", "missing"});
  expect_config_error([](json& j) { j["num_hidden_layers"] = "2"; }, {"num_hidden_layers", "integer"});
  expect_config_error([](json& j) { j["vocab_size"] = -5; }, {"vocab_size", "positive"});
  expect_config_error([](json& j) { j["rms_norm_eps"] = "tiny"; }, {"rms_norm_eps"});
  expect_config_error([](json& j) { j["tie_word_embeddings"] = 1; }, {"tie_word_embeddings"});
  expect_config_error([](json& j) { j["num_key_value_heads"] = 3; }, {"num_key_value_heads", "divide"});
  expect_config_error([](json& j) { j["num_attention_heads"] = 5; }, {"num_attention_heads"});
  expect_config_error([](json& j) { j["hidden_size"] = std::numeric_limits<uint64_t>::max(); }, {"hidden_size"});
  expect_error<hf::HfImportError>([] { hf::parse_hf_config("{\"hidden_size\": 64,", "c.json"); }, {"c.json", "JSON"});
  expect_error<hf::HfImportError>([] { hf::parse_hf_config("[1, 2]", "c.json"); }, {"object"});
  expect_error<hf::HfImportError>([] { hf::parse_hf_config("", "c.json"); }, {"JSON"});
}

class HfMalformedCheckpoint : public ::testing::Test {
 protected:
  fedlora::test::TempDir dir;
  fs::path ck() const { return dir / "ckpt"; }
  template <class E>
  void expect_import_error(std::vector<std::string> needles) {
    expect_error<E>([&] { import_hf_checkpoint(ck(), dir / "m.gguf", {.type = GgmlType::F32}); }, needles);
    EXPECT_FALSE(fs::exists(dir / "m.gguf"));
  }
};

TEST_F(HfMalformedCheckpoint, MissingFiles) {
  test::write_hf_checkpoint(ck(), HfSpec{}, HfDtype::F32);
  fs::remove(ck() / "model.safetensors");
  expect_import_error<hf::HfImportError>({"model.safetensors", ".bin"});
  test::write_hf_checkpoint(ck(), HfSpec{}, HfDtype::F32);
  fs::remove(ck() / "tokenizer.model");
  expect_import_error<hf::HfImportError>({"tokenizer.model", "tokenizer.json"});
  fs::remove(ck() / "config.json");
  expect_import_error<hf::HfImportError>({"config.json"});
}

TEST_F(HfMalformedCheckpoint, TruncatedAndCorruptSafetensors) {
  test::write_hf_checkpoint(ck(), HfSpec{}, HfDtype::F32);
  auto bytes = test::safetensors_bytes(test::hf_tensors(HfSpec{}), HfDtype::F32);
  test::write_file(ck() / "model.safetensors", bytes.substr(0, bytes.size() - 100));
  expect_import_error<safetensors::FormatError>({"model.safetensors"});
  test::write_file(ck() / "model.safetensors", bytes.substr(0, 5));
  expect_import_error<safetensors::FormatError>({"model.safetensors"});
  std::string bad = bytes;
  bad[8] = '[';  // header is no longer a JSON object
  test::write_file(ck() / "model.safetensors", bad);
  expect_import_error<safetensors::FormatError>({"model.safetensors"});
}

TEST_F(HfMalformedCheckpoint, WrongTensors) {
  HfSpec s;
  test::write_hf_checkpoint(ck(), s, HfDtype::F32);
  auto ts = test::hf_tensors(s);
  // Missing tensor.
  auto fewer = ts;
  fewer.erase(fewer.begin() + 2);
  test::write_file(ck() / "model.safetensors", test::safetensors_bytes(fewer, HfDtype::F32));
  expect_import_error<hf::HfImportError>({ts[2].name});
  // Wrong shape.
  auto wrong = ts;
  ASSERT_NE(ts[3].name.find("k_proj"), std::string::npos);
  wrong[3].shape = {wrong[3].shape[1], wrong[3].shape[0]};  // [64, 32] instead of [32, 64]
  test::write_file(ck() / "model.safetensors", test::safetensors_bytes(wrong, HfDtype::F32));
  expect_import_error<hf::HfImportError>({ts[3].name, "shape [64, 32]", "[32, 64]"});
  // A bias the decoder does not implement.
  auto extra = ts;
  extra.push_back({"model.layers.0.self_attn.q_proj.bias", {64}, test::hand_values(64, 5)});
  test::write_file(ck() / "model.safetensors", test::safetensors_bytes(extra, HfDtype::F32));
  expect_import_error<hf::HfImportError>({"q_proj.bias", "unexpected"});
  // Untied config without lm_head.
  HfSpec tied = s;
  tied.tied = true;
  test::write_file(ck() / "model.safetensors", test::safetensors_bytes(test::hf_tensors(tied), HfDtype::F32));
  expect_import_error<hf::HfImportError>({"lm_head.weight"});
}

TEST_F(HfMalformedCheckpoint, UnsupportedDtypeIsNamed) {
  HfSpec s;
  test::write_hf_checkpoint(ck(), s, HfDtype::F32);
  // Re-label the embedding as I32 (same byte size), by editing the hand-made header.
  auto bytes = test::safetensors_bytes(test::hf_tensors(s), HfDtype::F32);
  uint64_t n;
  std::memcpy(&n, bytes.data(), 8);
  auto header = json::parse(bytes.substr(8, n));
  header["model.embed_tokens.weight"]["dtype"] = "I32";
  std::string h = header.dump();
  while (h.size() % 8) h += ' ';
  std::string out(8, '\0');
  const uint64_t hn = h.size();
  std::memcpy(out.data(), &hn, 8);
  test::write_file(ck() / "model.safetensors", out + h + bytes.substr(8 + n));
  expect_import_error<hf::HfImportError>({"model.embed_tokens.weight", "I32"});
}

TEST_F(HfMalformedCheckpoint, BadShardIndex) {
  HfSpec s;
  test::write_hf_checkpoint(ck(), s, HfDtype::F16, 2);
  fs::remove(ck() / "model-00002-of-00002.safetensors");
  expect_import_error<hf::HfImportError>({"model-00002-of-00002.safetensors", "missing"});
  test::write_file(ck() / "model.safetensors.index.json", R"({"weight_map": {"model.norm.weight": "../x.safetensors"}})");
  expect_import_error<hf::HfImportError>({"plain file name"});
  test::write_file(ck() / "model.safetensors.index.json", R"({"metadata": {}})");
  expect_import_error<hf::HfImportError>({"weight_map"});
  test::write_file(ck() / "model.safetensors.index.json", R"({"weight_map": )");
  expect_import_error<hf::HfImportError>({"index.json", "JSON"});
  test::write_file(ck() / "model.safetensors.index.json",
                   R"({"weight_map": {"model.nope.weight": "model-00001-of-00002.safetensors"}})");
  expect_import_error<hf::HfImportError>({"model.nope.weight", "not stored"});
}

TEST_F(HfMalformedCheckpoint, QuantizedTypeNeedsRowsOfWholeBlocks) {
  HfSpec s;
  s.dim = 48;  // not a multiple of 32
  s.heads = 4;
  s.kv_heads = 2;
  test::write_hf_checkpoint(ck(), s, HfDtype::F32);
  expect_error<hf::HfImportError>([&] { import_hf_checkpoint(ck(), dir / "m.gguf", {.type = GgmlType::Q4_0}); },
                                  {"hidden_size 48", "Q4_0"});
}

class HfMalformedTokenizer : public ::testing::Test {
 protected:
  std::vector<std::string> vocab = {"a", "b", "\xC4\xA0", "\xC4\xA0" "a", "ab"};
  json good() const { return test::bpe_tokenizer_json(vocab, {"\xC4\xA0 a", "a b"}, {{5, "<|endoftext|>"}}); }
  void expect_tok_error(const std::function<void(json&)>& edit, std::vector<std::string> needles) {
    auto j = good();
    edit(j);
    expect_error<TokenizerError>([&] { parse_hf_tokenizer_json(j.dump(), 10, "t/tokenizer.json"); }, needles);
  }
};

TEST_F(HfMalformedTokenizer, GoodOneParses) {
  auto v = parse_hf_tokenizer_json(good().dump(), 10);
  EXPECT_EQ(v.pre, "smollm");
  EXPECT_EQ(v.tokens.size(), 10u);
  EXPECT_EQ(v.merges.size(), 2u);
}

TEST_F(HfMalformedTokenizer, RecognisesLlama3AndQwen2Splits) {
  const std::string l3 =
      R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
  std::string qw = l3;
  qw.replace(qw.find("\\p{N}{1,3}"), 10, "\\p{N}");
  for (auto [re, name, norm] : {std::tuple{l3, "llama-bpe", json(nullptr)}, std::tuple{qw, "qwen2", json{{"type", "NFC"}}}}) {
    auto j = good();
    j["normalizer"] = norm;
    j["pre_tokenizer"] = {{"type", "Sequence"},
                          {"pretokenizers",
                           {{{"type", "Split"}, {"pattern", {{"Regex", re}}}, {"behavior", "Isolated"}, {"invert", false}},
                            {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", false}}}}};
    EXPECT_EQ(parse_hf_tokenizer_json(j.dump(), 10).pre, name);
  }
}

TEST_F(HfMalformedTokenizer, RefusalsNameTheProblem) {
  expect_tok_error([](json& j) { j["model"]["type"] = "WordPiece"; }, {"t/tokenizer.json", "model.type", "WordPiece"});
  expect_tok_error([](json& j) { j["model"]["byte_fallback"] = true; }, {"byte_fallback", "tokenizer.model"});
  expect_tok_error([](json& j) { j["pre_tokenizer"] = {{"type", "Whitespace"}}; }, {"pre_tokenizer", "Whitespace"});
  expect_tok_error([](json& j) { j["pre_tokenizer"]["pretokenizers"][1]["use_regex"] = false; }, {"pre_tokenizer"});
  expect_tok_error([](json& j) { j["decoder"] = {{"type", "Metaspace"}}; }, {"decoder"});
  expect_tok_error([](json& j) { j["normalizer"] = {{"type", "Lowercase"}}; }, {"normalizer"});
  expect_tok_error([](json& j) { j["model"]["vocab"]["zz"] = 12; }, {"12", "zz", "vocab_size"});
  expect_tok_error([](json& j) { j["model"]["vocab"]["zz"] = 1; }, {"id 1", "zz"});
  expect_tok_error([](json& j) { j["model"]["vocab"]["zz"] = "3"; }, {"zz", "integer"});
  expect_tok_error([](json& j) { j["model"]["merges"].push_back("abc"); }, {"merges[2]"});
  expect_tok_error([](json& j) { j["model"]["merges"].push_back(json{1, 2}); }, {"merges[2]"});
  expect_tok_error([](json& j) { j["model"].erase("merges"); }, {"merges"});
  expect_tok_error([](json& j) { j["added_tokens"].push_back({{"id", 7}}); }, {"added_tokens"});
  expect_error<TokenizerError>([] { parse_hf_tokenizer_json("{\"model\": ", 10, "t.json"); }, {"t.json", "JSON"});
  expect_error<TokenizerError>([] { parse_hf_tokenizer_json("\"str\"", 10, "t.json"); }, {"object"});
}

TEST_F(HfMalformedTokenizer, ImportRefusesBeforeWriting) {
  fedlora::test::TempDir dir;
  test::write_hf_checkpoint(dir / "ckpt", HfSpec{}, HfDtype::F32);
  fs::remove(dir / "ckpt" / "tokenizer.model");
  auto j = good();
  j["pre_tokenizer"] = {{"type", "BertPreTokenizer"}};
  test::write_file(dir / "ckpt" / "tokenizer.json", j.dump());
  expect_error<TokenizerError>([&] { import_hf_checkpoint(dir / "ckpt", dir / "m.gguf"); },
                               {"tokenizer.json", "BertPreTokenizer"});
  EXPECT_FALSE(fs::exists(dir / "m.gguf"));
  // A truncated tokenizer.model is a TokenizerError too.
  test::write_file(dir / "ckpt" / "tokenizer.model", test::spm_model_bytes({"a", "b"}).substr(0, 7));
  expect_error<TokenizerError>([&] { import_hf_checkpoint(dir / "ckpt", dir / "m.gguf"); }, {"tokenizer.model"});
}

}  // namespace
}  // namespace fedlora::lora
