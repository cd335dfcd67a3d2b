// import-hf: checkpoints written by hand (hf_fixture.h) are converted, loaded by our decoder,
// and compared with a direct HF-layout forward pass (rotate_half RoPE, repeat_kv GQA) written
// here with LibTorch ops on the raw HF tensors.
#include <gtest/gtest.h>

#include <cmath>
#include <map>

#include "lora/format/gguf_reader.h"
#include "lora/model/base_model.h"
#include "lora/model/hf_import.h"
#include "lora/model/lora_model.h"
#include "lora/tokenizer/gguf_vocab.h"
#include "tests/lora/model/hf_fixture.h"
#include "tests/support/temp_dir.h"

namespace fedlora::lora {
namespace {

namespace fs = std::filesystem;
using test::HfDtype;
using test::HfSpec;

// transformers' LlamaForCausalLM forward (modeling_llama.py) in float64, one sequence.
at::Tensor hf_reference_logits(const std::vector<test::HfTensor>& ts, const HfSpec& s, const at::Tensor& tokens) {
  std::map<std::string, at::Tensor> W;
  for (const auto& t : ts)
    W[t.name] = at::from_blob(const_cast<float*>(t.values.data()), t.shape, at::kFloat).to(at::kDouble);
  const int64_t T = tokens.size(0), hd = s.dim / s.heads, rep = s.heads / s.kv_heads;
  auto rms = [&](const at::Tensor& x, const at::Tensor& w) {
    return x * at::rsqrt(x.pow(2).mean({-1}, true) + s.eps) * w;
  };
  auto rotate_half = [&](const at::Tensor& x) {
    return at::cat({-x.narrow(-1, hd / 2, hd / 2), x.narrow(-1, 0, hd / 2)}, -1);
  };
  auto inv_freq = 1.0 / at::pow(s.theta, at::arange(0, hd, 2, at::kDouble) / static_cast<double>(hd));
  auto freqs = at::outer(at::arange(T, at::kDouble), inv_freq);
  auto emb = at::cat({freqs, freqs}, -1);  // [T, hd]
  auto cos = emb.cos(), sin = emb.sin();
  auto mask = at::full({T, T}, -INFINITY, at::kDouble).triu(1);

  auto x = W["model.embed_tokens.weight"].index_select(0, tokens);  // [T, dim]
  for (int64_t l = 0; l < s.layers; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    auto h = rms(x, W[p + "input_layernorm.weight"]);
    auto q = h.matmul(W[p + "self_attn.q_proj.weight"].t()).view({T, s.heads, hd}).transpose(0, 1);
    auto k = h.matmul(W[p + "self_attn.k_proj.weight"].t()).view({T, s.kv_heads, hd}).transpose(0, 1);
    auto v = h.matmul(W[p + "self_attn.v_proj.weight"].t()).view({T, s.kv_heads, hd}).transpose(0, 1);
    q = q * cos + rotate_half(q) * sin;
    k = k * cos + rotate_half(k) * sin;
    k = k.repeat_interleave(rep, 0);
    v = v.repeat_interleave(rep, 0);
    auto att = at::softmax(q.matmul(k.transpose(1, 2)) / std::sqrt(static_cast<double>(hd)) + mask, -1);
    auto ctx = att.matmul(v).transpose(0, 1).reshape({T, s.dim});
    x = x + ctx.matmul(W[p + "self_attn.o_proj.weight"].t());
    h = rms(x, W[p + "post_attention_layernorm.weight"]);
    auto g = at::silu(h.matmul(W[p + "mlp.gate_proj.weight"].t())) * h.matmul(W[p + "mlp.up_proj.weight"].t());
    x = x + g.matmul(W[p + "mlp.down_proj.weight"].t());
  }
  x = rms(x, W["model.norm.weight"]);
  return x.matmul((s.tied ? W["model.embed_tokens.weight"] : W["lm_head.weight"]).t());
}

at::Tensor our_logits(const fs::path& gguf, const at::Tensor& tokens) {
  auto base = load_base_model(gguf);
  LoraAdapter none(make_adapter_layout(base->config, 1, 1.0f, {TargetModule::q}));
  LoraModel m(base, none);
  return decoder_forward(m, tokens.unsqueeze(0)).squeeze(0).detach().to(at::kDouble);
}

at::Tensor test_tokens(const HfSpec& s) {
  auto t = at::empty({s.max_pos}, at::kLong);
  for (int64_t i = 0; i < s.max_pos; ++i) t[i] = (i * 7 + 3) % s.vocab;
  return t;
}

struct Case {
  const char* name;
  HfDtype dtype;
  bool tied;
  int shards;
};

class HfImportForward : public ::testing::TestWithParam<Case> {};

TEST_P(HfImportForward, LogitsMatchHfLayoutReference) {
  const Case c = GetParam();
  fedlora::test::TempDir dir;
  HfSpec s;
  s.tied = c.tied;
  s.store_lm_head_when_tied = c.tied && c.shards == 1;
  auto ts = test::write_hf_checkpoint(dir / "ckpt", s, c.dtype, c.shards);
  auto rep = import_hf_checkpoint(dir / "ckpt", dir / "m.gguf", {.type = GgmlType::F32});
  EXPECT_EQ(rep.config.tied_embeddings, c.tied);
  EXPECT_EQ(rep.config.n_kv_heads, 2);
  EXPECT_EQ(rep.tokenizer, "llama");
  auto tokens = test_tokens(s);
  auto want = hf_reference_logits(ts, s, tokens);
  auto got = our_logits(dir / "m.gguf", tokens);
  ASSERT_EQ(got.sizes(), want.sizes());
  EXPECT_LT((got - want).abs().max().item<double>(), 1e-4) << c.name;
  EXPECT_GT(want.abs().max().item<double>(), 0.1);  // the comparison is not between near-zeros
}

INSTANTIATE_TEST_SUITE_P(Checkpoints, HfImportForward,
                         ::testing::Values(Case{"f32_untied", HfDtype::F32, false, 1},
                                           Case{"f16_tied", HfDtype::F16, true, 1},
                                           Case{"bf16_untied_sharded", HfDtype::BF16, false, 3},
                                           Case{"bf16_tied_sharded", HfDtype::BF16, true, 2}),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(HfImport, WithoutPermutationTheLogitsDiffer) {
  // Guards the test itself: the HF layout fed straight to our interleaved RoPE is wrong.
  fedlora::test::TempDir dir;
  HfSpec s;
  auto ts = test::write_hf_checkpoint(dir / "ckpt", s, HfDtype::F32);
  // Pre-apply the inverse permutation to q/k so that import's permutation cancels it.
  for (auto& t : ts) {
    const bool q = t.name.find("q_proj") != std::string::npos, k = t.name.find("k_proj") != std::string::npos;
    if (!q && !k) continue;
    const int64_t rows = t.shape[0], cols = t.shape[1], nh = q ? s.heads : s.kv_heads, hd = rows / nh;
    std::vector<float> inv(t.values.size());
    for (int64_t h = 0; h < nh; ++h)
      for (int64_t i = 0; i < hd / 2; ++i)
        for (int64_t j = 0; j < 2; ++j)
          std::copy_n(t.values.data() + (h * hd + 2 * i + j) * cols, cols, inv.data() + (h * hd + j * hd / 2 + i) * cols);
    t.values = inv;
  }
  test::write_file(dir / "ckpt" / "model.safetensors", test::safetensors_bytes(ts, HfDtype::F32));
  import_hf_checkpoint(dir / "ckpt", dir / "m.gguf", {.type = GgmlType::F32});
  auto tokens = test_tokens(s);
  // Our model now holds the un-permuted original weights, which must not match.
  auto orig = test::hf_tensors(s);
  EXPECT_GT((our_logits(dir / "m.gguf", tokens) - hf_reference_logits(orig, s, tokens)).abs().max().item<double>(), 1e-2);
}

TEST(HfImport, PermutationMatchesLlamaCppReshapeSwapaxes) {
  // LlamaModel.permute(w, n_head): reshape(n_head, 2, rows/n_head/2, cols).swapaxes(1, 2).
  const int64_t nh = 2, rows = 8, cols = 3;
  auto w = at::arange(rows * cols, at::kFloat).view({rows, cols});
  auto want = w.reshape({nh, 2, rows / nh / 2, cols}).transpose(1, 2).reshape({rows, cols}).contiguous();
  std::vector<float> flat(w.data_ptr<float>(), w.data_ptr<float>() + rows * cols);
  auto got = permute_rope_rows(flat, rows, cols, nh);
  for (int64_t i = 0; i < rows * cols; ++i) EXPECT_EQ(got[i], want.data_ptr<float>()[i]) << i;
  // Row 1 of the output is row hd/2 = 2 of the input (pairs i, i + hd/2 become adjacent).
  EXPECT_EQ(got[1 * cols], 2 * cols);
}

TEST(HfImport, MetadataTokenizerAndQuantizedTypes) {
  fedlora::test::TempDir dir;
  HfSpec s;
  test::write_hf_checkpoint(dir / "ckpt", s, HfDtype::BF16);
  auto tokens = test_tokens(s);
  auto want = hf_reference_logits(test::hf_tensors(s), s, tokens);
  for (auto [type, tol] : {std::pair{GgmlType::F16, 2e-2}, std::pair{GgmlType::Q8_0, 5e-2}, std::pair{GgmlType::Q4_0, 0.6}}) {
    auto out = dir / "m.gguf";
    import_hf_checkpoint(dir / "ckpt", out, {.type = type, .name = "tiny-hf"});
    auto f = gguf::GgufFile::open(out);
    EXPECT_EQ(f.get_string("general.name"), "tiny-hf");
    EXPECT_EQ(f.get_uint("llama.context_length"), 32u);
    EXPECT_FLOAT_EQ(f.get_f32("llama.rope.freq_base"), 1000.0f);
    EXPECT_FLOAT_EQ(f.get_f32("llama.attention.layer_norm_rms_epsilon"), 1e-5f);
    EXPECT_EQ(f.get_uint("llama.attention.head_count_kv"), 2u);
    EXPECT_EQ(f.find_tensor("blk.0.attn_q.weight")->type, type);
    EXPECT_EQ(f.find_tensor("blk.0.attn_norm.weight")->type, GgmlType::F32);
    auto vocab = read_gguf_vocab(f);
    ASSERT_EQ(vocab.size(), 40);  // 9 pieces padded to config.json vocab_size
    EXPECT_EQ(vocab.piece(3), "\xE2\x96\x81");
    EXPECT_EQ(vocab.piece(39), "[PAD39]");
    EXPECT_EQ(vocab.type(39), TokenType::unused);
    EXPECT_EQ(vocab.bos_id(), 1);
    auto got = our_logits(out, tokens);
    EXPECT_LT((got - want).abs().max().item<double>(), tol) << static_cast<int>(type);
  }
}

TEST(HfImport, ContextLengthCanBeShortenedNotExtended) {
  fedlora::test::TempDir dir;
  test::write_hf_checkpoint(dir / "ckpt", HfSpec{}, HfDtype::F32);
  auto rep = import_hf_checkpoint(dir / "ckpt", dir / "m.gguf", {.type = GgmlType::F32, .context_length = 16});
  EXPECT_EQ(rep.config.context_length, 16);
  EXPECT_EQ(gguf::GgufFile::open(dir / "m.gguf").get_uint("llama.context_length"), 16u);
  EXPECT_THROW(import_hf_checkpoint(dir / "ckpt", dir / "n.gguf", {.type = GgmlType::F32, .context_length = 33}),
               hf::HfImportError);
  EXPECT_FALSE(fs::exists(dir / "n.gguf"));
}

TEST(HfImport, BytelevelBpeTokenizerIsWrittenAsLlamaCppDoes) {
  fedlora::test::TempDir dir;
  HfSpec s;
  test::write_hf_checkpoint(dir / "ckpt", s, HfDtype::F32);
  fs::remove(dir / "ckpt" / "tokenizer.model");
  std::vector<std::string> vocab = {"a", "b", "\xC4\xA0", "\xC4\xA0" "a", "ab"};
  test::write_file(dir / "ckpt" / "tokenizer.json",
                   test::bpe_tokenizer_json(vocab, {"\xC4\xA0 a", "a b"}, {{5, "<|endoftext|>"}, {6, "<|im_start|>"}}).dump());
  test::write_file(dir / "ckpt" / "tokenizer_config.json",
                   nlohmann::json{{"add_bos_token", false}, {"eos_token", "<|endoftext|>"}}.dump());
  auto rep = import_hf_checkpoint(dir / "ckpt", dir / "m.gguf", {.type = GgmlType::F32});
  EXPECT_EQ(rep.tokenizer, "gpt2/smollm");
  EXPECT_EQ(rep.tokenizer_size, 7);
  auto f = gguf::GgufFile::open(dir / "m.gguf");
  EXPECT_EQ(f.get_string("tokenizer.ggml.model"), "gpt2");
  EXPECT_EQ(f.get_string("tokenizer.ggml.pre"), "smollm");
  const auto& toks = f.get_string_array("tokenizer.ggml.tokens");
  ASSERT_EQ(toks.size(), 40u);
  EXPECT_EQ(toks[3], "\xC4\xA0" "a");
  EXPECT_EQ(toks[5], "<|endoftext|>");
  EXPECT_EQ(toks[7], "[PAD7]");
  const auto& types = f.get_i32_array("tokenizer.ggml.token_type");
  EXPECT_EQ(types[0], 1);
  EXPECT_EQ(types[5], 3);
  EXPECT_EQ(types[7], 5);
  EXPECT_EQ(f.get_string_array("tokenizer.ggml.merges"), (std::vector<std::string>{"\xC4\xA0 a", "a b"}));
  EXPECT_EQ(f.find_u32("tokenizer.ggml.eos_token_id"), 5u);  // tokenizer_config.json wins over config.json's 2
  EXPECT_EQ(f.find_u32("tokenizer.ggml.bos_token_id"), 1u);
  EXPECT_EQ(f.find_bool("tokenizer.ggml.add_bos_token"), false);
  // Our SentencePiece loader refuses it by name rather than mis-tokenizing.
  try {
    read_gguf_vocab(f);
    ADD_FAILURE() << "expected TokenizerError";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("'gpt2'"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace fedlora::lora
