// SpmVocab <-> GGUF metadata: the keys and value types llama.cpp/gguf-py use (spelled out
// here as literals, independently of gguf_vocab.h), an exact round trip through a GGUF file
// image, and clear errors for vocabularies we cannot read.

#include "lora/tokenizer/gguf_vocab.h"

#include <gtest/gtest.h>

#include "lora/tokenizer/spm_tokenizer.h"
#include "lora/tokenizer/tokenizer_error.h"
#include "tests/lora/tokenizer/test_vocabs.h"

namespace fedlora::lora {
namespace {

using testing::make_spec;

SpmVocab sample_vocab() {
  auto spec = make_spec({{"▁", -3.5f}, {"a", -7.25f}, {"▁a", 1.0f},
                         {"<sep>", 0.0f, TokenType::user_defined},
                         {"<unused0>", 0.0f, TokenType::unused},
                         {"<pad>", 0.0f, TokenType::control}});
  spec.pad_id = static_cast<TokenId>(spec.pieces.size() - 1);
  spec.add_bos = false;  // non-defaults, so the flags visibly round-trip
  spec.add_eos = true;
  return SpmVocab(spec);
}

gguf::GgufFile to_file(const gguf::GgufWriter& w) { return gguf::GgufFile::from_bytes(w.serialize(), "test.gguf"); }

TEST(GgufVocab, WritesLlamaCppKeysWithTheirTypes) {
  const SpmVocab v = sample_vocab();
  gguf::GgufWriter w;
  write_gguf_vocab(v, w);
  const auto f = to_file(w);
  EXPECT_EQ(f.get_string("tokenizer.ggml.model"), "llama");
  EXPECT_EQ(f.get_string("tokenizer.ggml.pre"), "default");
  EXPECT_EQ(f.get_string_array("tokenizer.ggml.tokens"), v.pieces());
  EXPECT_EQ(f.get_f32_array("tokenizer.ggml.scores"), v.scores());
  const auto& types = f.get_i32_array("tokenizer.ggml.token_type");  // gguf-py: INT32
  ASSERT_EQ(types.size(), static_cast<std::size_t>(v.size()));
  EXPECT_EQ(types[0], 2);    // <unk>: unknown
  EXPECT_EQ(types[1], 3);    // <s>: control
  EXPECT_EQ(types[3], 6);    // <0x00>: byte
  EXPECT_EQ(types[259], 1);  // ▁: normal
  EXPECT_EQ(types[262], 4);  // <sep>: user_defined
  EXPECT_EQ(types[263], 5);  // <unused0>: unused
  EXPECT_EQ(f.get_u32("tokenizer.ggml.unknown_token_id"), 0u);
  EXPECT_EQ(f.get_u32("tokenizer.ggml.bos_token_id"), 1u);
  EXPECT_EQ(f.get_u32("tokenizer.ggml.eos_token_id"), 2u);
  EXPECT_EQ(f.get_u32("tokenizer.ggml.padding_token_id"), 264u);
  EXPECT_FALSE(f.get_bool("tokenizer.ggml.add_bos_token"));
  EXPECT_TRUE(f.get_bool("tokenizer.ggml.add_eos_token"));
  EXPECT_TRUE(f.get_bool("tokenizer.ggml.add_space_prefix"));
}

TEST(GgufVocab, RoundTripsExactly) {
  const SpmVocab v = sample_vocab();
  gguf::GgufWriter w;
  w.set("general.architecture", std::string("llama"));
  write_gguf_vocab(v, w);
  const SpmVocab back = read_gguf_vocab(to_file(w));
  EXPECT_EQ(back.pieces(), v.pieces());
  EXPECT_EQ(back.scores(), v.scores());
  EXPECT_EQ(back.types(), v.types());
  EXPECT_EQ(back.unk_id(), v.unk_id());
  EXPECT_EQ(back.bos_id(), v.bos_id());
  EXPECT_EQ(back.eos_id(), v.eos_id());
  EXPECT_EQ(back.pad_id(), v.pad_id());
  EXPECT_EQ(back.byte_fallback(), v.byte_fallback());
  EXPECT_EQ(back.add_dummy_prefix(), v.add_dummy_prefix());
  EXPECT_EQ(back.add_bos(), v.add_bos());
  EXPECT_EQ(back.add_eos(), v.add_eos());
  const SpmTokenizer a(v), b(back);
  EXPECT_EQ(a.encode("a a <sep> é"), b.encode("a a <sep> é"));
}

TEST(GgufVocab, NoPadAndNoByteFallbackRoundTrip) {
  const SpmVocab v(make_spec({{"a", 0}}, /*byte_fallback=*/false, /*add_dummy_prefix=*/false));
  gguf::GgufWriter w;
  write_gguf_vocab(v, w);
  const auto f = to_file(w);
  EXPECT_EQ(f.find("tokenizer.ggml.padding_token_id"), nullptr);
  const SpmVocab back = read_gguf_vocab(f);
  EXPECT_EQ(back.pad_id(), kNoToken);
  EXPECT_FALSE(back.byte_fallback());
  EXPECT_FALSE(back.add_dummy_prefix());
}

TEST(GgufVocab, VocabularyWithoutBosCannotBeWritten) {
  auto spec = make_spec({{"a", 0}});
  spec.bos_id = kNoToken;
  gguf::GgufWriter w;
  EXPECT_THROW(write_gguf_vocab(SpmVocab(spec), w), TokenizerError);
}

TEST(GgufVocab, DefaultsFollowLlamaCpp) {
  // Only the three arrays and the model name: ids 0/1/2, add_bos, no add_eos, space prefix.
  const SpmVocab v(make_spec({{"a", 0}}));
  gguf::GgufWriter w;
  w.set("tokenizer.ggml.model", std::string("llama"));
  w.set("tokenizer.ggml.tokens", gguf::Array(v.pieces()));
  w.set("tokenizer.ggml.scores", gguf::Array(v.scores()));
  std::vector<std::int32_t> types;
  for (const auto t : v.types()) types.push_back(static_cast<std::int32_t>(t));
  w.set("tokenizer.ggml.token_type", gguf::Array(types));
  const SpmVocab back = read_gguf_vocab(to_file(w));
  EXPECT_EQ(back.unk_id(), 0);
  EXPECT_EQ(back.bos_id(), 1);
  EXPECT_EQ(back.eos_id(), 2);
  EXPECT_EQ(back.pad_id(), kNoToken);
  EXPECT_TRUE(back.add_bos());
  EXPECT_FALSE(back.add_eos());
  EXPECT_TRUE(back.add_dummy_prefix());
  EXPECT_TRUE(back.byte_fallback());
}

void expect_unreadable(const gguf::GgufWriter& w, const std::string& needle) {
  try {
    read_gguf_vocab(to_file(w));
    ADD_FAILURE() << "accepted; expected '" << needle << "'";
  } catch (const std::runtime_error& e) {  // TokenizerError or gguf::FormatError
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

TEST(GgufVocab, ReadErrorsAreClear) {
  const SpmVocab v = sample_vocab();
  const auto base = [&] {
    gguf::GgufWriter w;
    write_gguf_vocab(v, w);
    return w;
  };
  gguf::GgufWriter w;
  expect_unreadable(w, "tokenizer.ggml.model is missing");
  w = base();
  w.set("tokenizer.ggml.model", std::string("gpt2"));
  expect_unreadable(w, "'gpt2'");
  w = base();
  w.set("tokenizer.ggml.remove_extra_whitespaces", true);
  expect_unreadable(w, "remove_extra_whitespaces");
  w = base();
  w.set("tokenizer.ggml.bos_token_id", std::uint32_t{100000});
  expect_unreadable(w, "bos_token_id = 100000");
  w = base();
  std::vector<std::int32_t> bad_types(static_cast<std::size_t>(v.size()), 1);
  bad_types[5] = 9;
  w.set("tokenizer.ggml.token_type", gguf::Array(bad_types));
  expect_unreadable(w, "token_type[5]");
  w = base();
  w.set("tokenizer.ggml.scores", gguf::Array(std::vector<float>(3, 0.0f)));
  expect_unreadable(w, "sizes differ");
  w = base();
  w.set("tokenizer.ggml.token_type", gguf::Array(std::vector<std::uint32_t>(static_cast<std::size_t>(v.size()), 1)));
  expect_unreadable(w, "token_type");  // wrong array element type: the reader's FormatError
  // Missing scores: refused rather than defaulting to 0.
  gguf::GgufWriter no_scores;
  no_scores.set("tokenizer.ggml.model", std::string("llama"));
  no_scores.set("tokenizer.ggml.tokens", gguf::Array(v.pieces()));
  expect_unreadable(no_scores, "tokenizer.ggml.scores is missing");
}

}  // namespace
}  // namespace fedlora::lora
