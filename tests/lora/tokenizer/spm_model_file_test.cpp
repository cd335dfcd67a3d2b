// The hand-written `.model` (protobuf wire format) reader on hand-encoded messages: field
// values come out exactly, unsupported models are refused, and malformed bytes of every kind
// give a TokenizerError, never a crash.

#include "lora/tokenizer/spm_model_file.h"

#include <gtest/gtest.h>

#include <bit>
#include <cstdint>
#include <random>

#include "lora/tokenizer/tokenizer_error.h"

namespace fedlora::lora {
namespace {

// Minimal protobuf encoder (https://protobuf.dev/programming-guides/encoding/).
std::string varint(std::uint64_t v) {
  std::string s;
  do {
    std::uint8_t b = v & 0x7F;
    v >>= 7;
    if (v) b |= 0x80;
    s += static_cast<char>(b);
  } while (v);
  return s;
}
std::string key(int field, int wire) { return varint(static_cast<std::uint64_t>(field) << 3 | wire); }
std::string vfield(int field, std::int64_t v) { return key(field, 0) + varint(static_cast<std::uint64_t>(v)); }
std::string lfield(int field, const std::string& bytes) { return key(field, 2) + varint(bytes.size()) + bytes; }
std::string ffield(int field, float f) {
  const auto u = std::bit_cast<std::uint32_t>(f);
  std::string s = key(field, 5);
  for (int i = 0; i < 4; ++i) s += static_cast<char>((u >> (8 * i)) & 0xFF);
  return s;
}

std::string piece(const std::string& text, float score, int type /* 0 = omit */) {
  std::string m = lfield(1, text) + ffield(2, score);
  if (type) m += vfield(3, type);
  return lfield(1, m);
}

std::string trainer(int model_type, bool byte_fallback) {
  return lfield(2, vfield(3, model_type) + vfield(35, byte_fallback) + vfield(40, 0) +
                       vfield(41, 1) + vfield(42, 2) + vfield(43, -1) +
                       lfield(45, "<unk>"));  // an unread field: skipped
}

std::string normalizer(const std::string& charsmap, bool remove_extra_ws, bool set_remove) {
  std::string m = lfield(1, "identity") + vfield(3, 1);
  if (!charsmap.empty()) m += lfield(2, charsmap);
  if (set_remove) m += vfield(4, remove_extra_ws);
  return lfield(3, m);
}

std::string good_model() {
  return piece("<unk>", 0, 2) + piece("<s>", 0, 3) + piece("</s>", 0, 3) +
         piece("▁a", -1.5f, 0) + piece("b", 0.25f, 1) +
         key(99, 1) + std::string(8, '\x07') +  // unknown fixed64 field: skipped
         trainer(2, false) + normalizer("", false, true);
}

void expect_error(const std::string& bytes, const std::string& needle) {
  try {
    parse_spm_model(bytes, "test.model");
    ADD_FAILURE() << "accepted; expected an error containing '" << needle << "'";
  } catch (const TokenizerError& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

TEST(SpmModelFile, ReadsPiecesScoresTypesAndSpecs) {
  const SpmVocab v = parse_spm_model(good_model());
  ASSERT_EQ(v.size(), 5);
  EXPECT_EQ(v.piece(3), "▁a");
  EXPECT_EQ(v.score(3), -1.5f);
  EXPECT_EQ(v.type(3), TokenType::normal);  // proto2 default when type is absent
  EXPECT_EQ(v.score(4), 0.25f);
  EXPECT_EQ(v.type(0), TokenType::unknown);
  EXPECT_EQ(v.type(1), TokenType::control);
  EXPECT_EQ(v.unk_id(), 0);
  EXPECT_EQ(v.bos_id(), 1);
  EXPECT_EQ(v.eos_id(), 2);
  EXPECT_EQ(v.pad_id(), kNoToken);  // -1 as a 10-byte varint
  EXPECT_FALSE(v.byte_fallback());
  EXPECT_TRUE(v.add_dummy_prefix());
  EXPECT_TRUE(v.add_bos());
  EXPECT_FALSE(v.add_eos());
}

TEST(SpmModelFile, RefusesModelsWeDoNotImplement) {
  const std::string pieces = piece("<unk>", 0, 2) + piece("<s>", 0, 3) + piece("</s>", 0, 3) + piece("a", 0, 1);
  expect_error(pieces + trainer(1, false) + normalizer("", false, true), "only BPE");
  expect_error(pieces + normalizer("", false, true), "model_type is absent");
  expect_error(pieces + trainer(2, false) + normalizer("\x01\x02", false, true), "identity");
  // remove_extra_whitespaces defaults to true in proto2 when absent.
  expect_error(pieces + trainer(2, false) + normalizer("", false, false), "remove_extra_whitespaces");
  expect_error(pieces + trainer(2, false), "normalizer_spec is missing");
  // byte_fallback claimed without byte pieces: the vocabulary check fires.
  expect_error(pieces + trainer(2, true) + normalizer("", false, true), "byte fallback is claimed");
}

TEST(SpmModelFile, MalformedWireDataIsAnError) {
  expect_error("", "no pieces");
  expect_error(std::string("\x0A\xFF\xFF\xFF\xFF\x0F", 6), "runs past the end");
  expect_error(key(1, 3), "unsupported wire type 3");
  expect_error(std::string("\x00", 1), "field number 0");
  expect_error(std::string(11, '\xFF'), "varint");
  expect_error(lfield(1, lfield(1, "a") + key(2, 0) + varint(5)), "score has wire type 0");
  expect_error(piece("a", 0, 9) + trainer(2, false), "token type 9");
}

TEST(SpmModelFile, EveryTruncationThrowsCleanly) {
  const std::string full = good_model();
  ASSERT_NO_THROW(parse_spm_model(full));
  for (std::size_t n = 0; n < full.size(); ++n) {
    EXPECT_THROW(parse_spm_model(full.substr(0, n)), TokenizerError) << "prefix of " << n << " bytes";
  }
}

TEST(SpmModelFile, RandomCorruptionNeverCrashes) {
  const std::string full = good_model();
  std::mt19937 rng(11);
  std::uniform_int_distribution<std::size_t> pos(0, full.size() - 1);
  std::uniform_int_distribution<int> byte(0, 255);
  int rejected = 0;
  for (int t = 0; t < 3000; ++t) {
    std::string bad = full;
    for (int k = 0; k < 3; ++k) bad[pos(rng)] = static_cast<char>(byte(rng));
    try {
      parse_spm_model(bad);
    } catch (const TokenizerError&) {
      ++rejected;
    }
  }
  EXPECT_GT(rejected, 0);
}

TEST(SpmModelFile, MissingFileIsAnError) {
  EXPECT_THROW(load_spm_model("/nonexistent/dir/x.model"), TokenizerError);
}

}  // namespace
}  // namespace fedlora::lora
