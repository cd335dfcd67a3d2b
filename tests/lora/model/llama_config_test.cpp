// read_llama_config on GGUF metadata: a valid header reads to the values written, and every
// malformed size gets a typed error, never a crash (a head_count of 0 divided by zero in the
// rope.dimension_count check before validation; found by fuzz/ gguf_file).
#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <string>

#include "lora/format/gguf_reader.h"
#include "lora/format/gguf_writer.h"
#include "lora/model/llama_config.h"

namespace fedlora::lora {
namespace {

// The metadata of a dim-64, 4-head (2 KV) llama, edited by `edit` before it is written.
gguf::GgufFile header(const std::function<void(gguf::GgufWriter&)>& edit = {}) {
  gguf::GgufWriter w;
  w.set("general.architecture", std::string("llama"));
  w.set("llama.vocab_size", uint32_t{100});
  w.set("llama.context_length", uint32_t{32});
  w.set("llama.embedding_length", uint32_t{64});
  w.set("llama.block_count", uint32_t{2});
  w.set("llama.feed_forward_length", uint32_t{96});
  w.set("llama.attention.head_count", uint32_t{4});
  w.set("llama.attention.head_count_kv", uint32_t{2});
  w.set("llama.rope.dimension_count", uint32_t{16});
  w.set("llama.attention.layer_norm_rms_epsilon", 1e-5f);
  if (edit) edit(w);
  return gguf::GgufFile::from_bytes(w.serialize(), "t.gguf");
}

void expect_model_error(const std::function<void(gguf::GgufWriter&)>& edit, const std::string& needle) {
  const auto f = header(edit);
  try {
    (void)read_llama_config(f);
    FAIL() << "accepted; expected an error containing '" << needle << "'";
  } catch (const ModelConfigError& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

TEST(ReadLlamaConfig, ReadsTheValuesWritten) {
  const auto c = read_llama_config(header());
  EXPECT_EQ(c.dim, 64);
  EXPECT_EQ(c.n_layers, 2);
  EXPECT_EQ(c.n_heads, 4);
  EXPECT_EQ(c.n_kv_heads, 2);
  EXPECT_EQ(c.head_dim(), 16);
  EXPECT_EQ(c.ffn_dim, 96);
  EXPECT_EQ(c.vocab_size, 100);
  EXPECT_EQ(c.context_length, 32);
  EXPECT_FLOAT_EQ(c.rope_theta, 10000.0f);  // default when freq_base is absent
  EXPECT_TRUE(c.tied_embeddings);            // no output.weight
}

TEST(ReadLlamaConfig, MalformedSizesAreTypedErrorsNotCrashes) {
  // head_count 0 with a rope.dimension_count present: was SIGFPE (integer division by zero).
  expect_model_error([](auto& w) { w.set("llama.attention.head_count", uint32_t{0}); }, "positive");
  expect_model_error([](auto& w) { w.set("llama.attention.head_count_kv", uint32_t{0}); }, "positive");
  expect_model_error([](auto& w) { w.set("llama.embedding_length", uint32_t{0}); }, "positive");
  // 2^64-1 does not fit int64: read as negative, refused as a size.
  expect_model_error([](auto& w) { w.set("llama.block_count", UINT64_MAX); }, "positive");
  expect_model_error([](auto& w) { w.set("llama.embedding_length", uint32_t{66}); }, "not divisible");
  expect_model_error([](auto& w) { w.set("llama.attention.head_count_kv", uint32_t{3}); }, "multiple");
  expect_model_error([](auto& w) { w.set("llama.rope.dimension_count", uint32_t{8}); }, "partial RoPE");
  expect_model_error([](auto& w) { w.set("llama.attention.layer_norm_rms_epsilon", 0.0f); }, "epsilon");
}

}  // namespace
}  // namespace fedlora::lora
