// SpmVocab validation: every malformed vocabulary is rejected with a message naming the
// problem.

#include "lora/tokenizer/spm_vocab.h"

#include <gtest/gtest.h>

#include <cmath>
#include <functional>

#include "lora/tokenizer/tokenizer_error.h"
#include "tests/lora/tokenizer/test_vocabs.h"

namespace fedlora::lora {
namespace {

using testing::make_spec;

// Expects SpmVocab(spec) to throw TokenizerError whose message contains `needle`.
void expect_rejected(const SpmVocabSpec& spec, const std::string& needle) {
  try {
    SpmVocab v(spec);
    ADD_FAILURE() << "accepted a vocabulary that should fail with '" << needle << "'";
  } catch (const TokenizerError& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos)
        << "message: " << e.what() << "\nexpected to contain: " << needle;
  }
}

TEST(SpmVocab, AcceptsAWellFormedVocabulary) {
  const SpmVocab v(make_spec({{"▁a", -1}, {"b", -2, TokenType::user_defined}}));
  EXPECT_EQ(v.size(), 3 + 256 + 2);
  EXPECT_EQ(v.piece(0), "<unk>");
  EXPECT_EQ(v.type(0), TokenType::unknown);
  EXPECT_EQ(v.type(1), TokenType::control);
  EXPECT_EQ(v.piece(3 + 0x41), "<0x41>");
  EXPECT_EQ(*v.byte_token(0x41), 3 + 0x41);
  EXPECT_EQ(v.byte_value(3 + 0x41), 0x41);
  EXPECT_EQ(*v.find("▁a"), 259);
  EXPECT_EQ(*v.find_mergeable("▁a"), 259);
  EXPECT_FALSE(v.find_mergeable("<s>").has_value());     // control: reserved
  EXPECT_FALSE(v.find_mergeable("<0x41>").has_value());  // byte: reserved
  EXPECT_EQ(*v.find("<s>"), 1);
  EXPECT_FLOAT_EQ(v.score(260), -2.0f);
  EXPECT_THROW(v.piece(v.size()), TokenizerError);
  EXPECT_THROW(v.byte_value(259), TokenizerError);  // not a byte piece
}

TEST(SpmVocab, SizesMustMatch) {
  auto s = make_spec({{"a", 0}});
  s.scores.pop_back();
  expect_rejected(s, "sizes differ");
  s = make_spec({{"a", 0}});
  s.types.push_back(TokenType::normal);
  expect_rejected(s, "sizes differ");
  expect_rejected(SpmVocabSpec{}, "empty");
}

TEST(SpmVocab, SpecialIdsMustBeInRange) {
  auto s = make_spec({{"a", 0}});
  s.bos_id = s.pieces.size();
  expect_rejected(s, "bos_id");
  s = make_spec({{"a", 0}});
  s.eos_id = -2;
  expect_rejected(s, "eos_id");
  s = make_spec({{"a", 0}});
  s.pad_id = 100000;
  expect_rejected(s, "pad_id");
  s = make_spec({{"a", 0}});
  s.unk_id = kNoToken;  // unk is not optional
  expect_rejected(s, "unk_id");
  s = make_spec({{"a", 0}});
  s.unk_id = 1;  // in range but the control token <s>
  expect_rejected(s, "not the token of type unknown");
  s = make_spec({{"a", 0}});
  s.pad_id = 0;  // pad = unk is allowed (common in GGUF files)
  EXPECT_NO_THROW(SpmVocab{s});
}

TEST(SpmVocab, PiecesMustBeUniqueAndNonEmpty) {
  expect_rejected(make_spec({{"ab", 0}, {"c", 0}, {"ab", -1}}), "duplicates");
  expect_rejected(make_spec({{"", 0}}), "empty piece");
  expect_rejected(make_spec({{"<unk>", 0}}), "duplicates");
}

TEST(SpmVocab, ExactlyOneUnknown) {
  expect_rejected(make_spec({{"<unk2>", 0, TokenType::unknown}}), "2 tokens of type unknown");
}

TEST(SpmVocab, ScoresAndTypesMustBeValid) {
  expect_rejected(make_spec({{"a", std::nanf("")}}), "NaN");
  auto s = make_spec({{"a", 0}});
  s.types.back() = static_cast<TokenType>(0);
  expect_rejected(s, "token type 0");
  s.types.back() = static_cast<TokenType>(7);
  expect_rejected(s, "token type 7");
  EXPECT_THROW(token_type_from_id(0, "x"), TokenizerError);
  EXPECT_EQ(token_type_from_id(6, "x"), TokenType::byte);
}

TEST(SpmVocab, BytePiecesMustBeCompleteWhenClaimed) {
  auto s = make_spec({{"a", 0}});
  // Drop <0x7F> (id 3 + 0x7F) by renaming it to a normal piece.
  s.pieces[3 + 0x7F] = "x";
  s.types[3 + 0x7F] = TokenType::normal;
  expect_rejected(s, "<0x7F>");
  // Byte pieces present but byte fallback not claimed.
  s = make_spec({{"a", 0}});
  s.byte_fallback = false;
  expect_rejected(s, "byte_fallback is false");
  // No byte pieces and no claim: fine.
  EXPECT_NO_THROW(SpmVocab(make_spec({{"a", 0}}, false)));
}

TEST(SpmVocab, BytePiecesMustBeSpelledAndDistinct) {
  auto s = make_spec({{"<0xZZ>", 0, TokenType::byte}});
  expect_rejected(s, "not spelled <0xXX>");
  s = make_spec({{"<0x0a>", 0, TokenType::byte}});  // lower case duplicates <0x0A>
  expect_rejected(s, "second piece for byte <0x0A>");
  EXPECT_EQ(parse_byte_piece("<0x0a>"), 0x0A);
  EXPECT_EQ(parse_byte_piece("<0xFF>"), 0xFF);
  EXPECT_FALSE(parse_byte_piece("<0x1>").has_value());
  EXPECT_FALSE(parse_byte_piece("0x41").has_value());
  EXPECT_EQ(byte_piece(0x0A), "<0x0A>");
}

}  // namespace
}  // namespace fedlora::lora
