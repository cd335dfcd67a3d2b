// SpmTokenizer on hand-built vocabularies; every expected segmentation is worked out by hand
// in the comment above it from the SentencePiece BPE rule (highest-scoring adjacent pair
// first, ties to the leftmost pair).

#include "lora/tokenizer/spm_tokenizer.h"

#include <gtest/gtest.h>

#include "lora/tokenizer/tokenizer_error.h"
#include "tests/lora/tokenizer/test_vocabs.h"

namespace fedlora::lora {
namespace {

using testing::make_tokenizer;
using testing::Piece;
using testing::pieces_of;
using Strings = std::vector<std::string>;

// Characters + a few merges; scores follow BPE order (earlier merge = higher score).
SpmTokenizer hello_tokenizer() {
  return make_tokenizer({
      {"▁", -100}, {"h", -100}, {"e", -100}, {"l", -100}, {"o", -100}, {"a", -100},
      {"ll", -1}, {"▁h", -2}, {"▁he", -3}, {"▁hell", -4}, {"▁▁", -5},
      {"€", -100},
  });
}

TEST(SpmTokenizer, MergesByScore) {
  const auto tok = hello_tokenizer();
  // "▁hello" = ▁ h e l l o. Pairs in the vocab: ▁h (-2), ll (-1).
  // ll first → ▁ h e ll o; then ▁h → ▁h e ll o; new pair ▁he (-3) → ▁he ll o;
  // new pair ▁hell (-4) → ▁hell o; "▁hello" is not a piece: done.
  EXPECT_EQ(pieces_of(tok, tok.encode("hello")), (Strings{"▁hell", "o"}));
  // "▁he" = ▁ h e → ▁h e → ▁he.
  EXPECT_EQ(pieces_of(tok, tok.encode("he")), (Strings{"▁he"}));
  EXPECT_EQ(tok.decode(tok.encode("hello")), "hello");
}

TEST(SpmTokenizer, HigherScoreBeatsLeftmost) {
  // No dummy prefix. "abc": pairs ab (-2) and bc (-1): bc wins although ab is further left.
  const auto tok = make_tokenizer({{"a", -9}, {"b", -9}, {"c", -9}, {"ab", -2}, {"bc", -1}},
                                  true, false);
  EXPECT_EQ(pieces_of(tok, tok.encode("abc")), (Strings{"a", "bc"}));
}

TEST(SpmTokenizer, TieGoesToLeftmostPair) {
  // No dummy prefix. "aaa": pairs (0,1) and (1,2) are both "aa" with score 0; the leftmost
  // merges → aa a; "aaa" is not a piece. Rightmost-first would give a aa.
  const auto tok = make_tokenizer({{"a", -9}, {"aa", 0}}, true, false);
  EXPECT_EQ(pieces_of(tok, tok.encode("aaa")), (Strings{"aa", "a"}));
  // "aaaa": (0,1) merges; stale (1,2) is skipped; (2,3) merges → aa aa.
  EXPECT_EQ(pieces_of(tok, tok.encode("aaaa")), (Strings{"aa", "aa"}));
}

TEST(SpmTokenizer, ByteFallbackForUnknownCharacter) {
  const auto tok = hello_tokenizer();
  // "▁hé": é (C3 A9) is not a piece; ▁h merges; é falls back to its two UTF-8 bytes.
  EXPECT_EQ(pieces_of(tok, tok.encode("hé")), (Strings{"▁h", "<0xC3>", "<0xA9>"}));
  EXPECT_EQ(tok.decode(tok.encode("hé")), "hé");
  // A 4-byte emoji U+1F600 (F0 9F 98 80) not in the vocab: four byte tokens.
  EXPECT_EQ(pieces_of(tok, tok.encode("a😀")), (Strings{"▁", "a", "<0xF0>", "<0x9F>", "<0x98>", "<0x80>"}));
}

TEST(SpmTokenizer, MultiByteCharacterIsOneSymbol) {
  const auto tok = hello_tokenizer();
  // "▁€" = ▁ € (E2 82 AC is one symbol and a piece); "▁€" is not a piece.
  EXPECT_EQ(pieces_of(tok, tok.encode("€")), (Strings{"▁", "€"}));
}

TEST(SpmTokenizer, InvalidUtf8BecomesBytesAndRoundTrips) {
  const auto tok = hello_tokenizer();
  // A stray 0xFF between letters: its own symbol, not a piece → <0xFF>.
  EXPECT_EQ(pieces_of(tok, tok.encode("a\xFF" "a")), (Strings{"▁", "a", "<0xFF>", "a"}));
  // Truncated € (E2 82) followed by 'a': each bad byte is a symbol of its own.
  EXPECT_EQ(pieces_of(tok, tok.encode("\xE2\x82" "a")), (Strings{"▁", "<0xE2>", "<0x82>", "a"}));
  // Truncated lead byte at the very end, overlong "/" (C0 AF), surrogate (ED A0 80).
  for (const std::string& bad : {std::string("he\xE2"), std::string("\xC0\xAF"),
                                std::string("\xED\xA0\x80"), std::string("\x80\x80")}) {
    const auto ids = tok.encode(bad);
    for (const TokenId id : ids) EXPECT_NE(tok.vocab().type(id), TokenType::unknown);
    EXPECT_EQ(tok.decode(ids), bad);
  }
  // The overlong form is 2 byte tokens, not one "character".
  EXPECT_EQ(pieces_of(tok, tok.encode("\xC0\xAF")), (Strings{"▁", "<0xC0>", "<0xAF>"}));
}

TEST(SpmTokenizer, EmptyAndSpaces) {
  const auto tok = hello_tokenizer();
  EXPECT_TRUE(tok.encode("").empty());  // no dummy prefix for empty input
  EXPECT_EQ(tok.decode({}), "");
  // "   " → "▁▁▁▁" (dummy + 3). All three pairs are ▁▁ (-5): leftmost (0,1) merges, (1,2)
  // is stale, (2,3) merges → ▁▁ ▁▁ ("▁▁▁▁" is not a piece).
  EXPECT_EQ(pieces_of(tok, tok.encode("   ")), (Strings{"▁▁", "▁▁"}));
  EXPECT_EQ(tok.decode(tok.encode("   ")), "   ");
  // One space: "▁▁" → merged.
  EXPECT_EQ(pieces_of(tok, tok.encode(" ")), (Strings{"▁▁"}));
  EXPECT_EQ(tok.decode(tok.encode(" ")), " ");
}

TEST(SpmTokenizer, NoDummyPrefix) {
  const auto tok = make_tokenizer({{"▁", -9}, {"a", -9}, {"▁a", -1}}, true, false);
  EXPECT_EQ(pieces_of(tok, tok.encode("a a")), (Strings{"a", "▁a"}));
  EXPECT_EQ(tok.decode(tok.encode(" a")), " a");  // nothing stripped without a dummy prefix
}

TEST(SpmTokenizer, UnknownWithoutByteFallback) {
  // No byte pieces: characters outside the vocab become <unk>; a run of them gives one <unk>.
  const auto tok = make_tokenizer({{"▁", -9}, {"a", -9}, {"b", -9}}, false);
  const auto ids = tok.encode("a😀é b");
  // "▁a😀é▁b" = ▁ a 😀 é ▁ b; no merges; 😀é is one unknown run.
  EXPECT_EQ(pieces_of(tok, ids), (Strings{"▁", "a", "<unk>", "▁", "b"}));
  EXPECT_EQ(tok.decode(ids), "a \xE2\x81\x87  b");  // <unk> decodes to " ⁇ "
  EXPECT_FALSE(tok.newline_id().has_value());
  EXPECT_THROW(tok.encode_lines("a\nb"), TokenizerError);
}

TEST(SpmTokenizer, UnusedPieceIsSplitBack) {
  // "ab" is unused: it may be merged into (so "abc" can form) but is never emitted.
  const auto tok = make_tokenizer({{"a", -9}, {"b", -9}, {"c", -9}, {"d", -9},
                                   {"ab", -1, TokenType::unused}, {"abc", -2}, {"cd", -3}},
                                  true, false);
  // "ab": merged to unused "ab" → resegmented into a b.
  EXPECT_EQ(pieces_of(tok, tok.encode("ab")), (Strings{"a", "b"}));
  // "abc": ab (-1) then abc (-2).
  EXPECT_EQ(pieces_of(tok, tok.encode("abc")), (Strings{"abc"}));
  // "abd": ab merges (unused), "abd" is no piece → a b d.
  EXPECT_EQ(pieces_of(tok, tok.encode("abd")), (Strings{"a", "b", "d"}));
}

TEST(SpmTokenizer, UserDefinedPiecesAreMatchedFirstAndFrozen) {
  // "a<sep>" is a normal piece with the best score, but <sep> is user-defined, so it is
  // cut out before BPE and never merged.
  const auto tok = make_tokenizer({{"a", -9}, {"b", -9}, {"<sep>", 0, TokenType::user_defined},
                                   {"<se", 0, TokenType::user_defined}, {"a<sep>", 10}},
                                  true, false);
  EXPECT_EQ(pieces_of(tok, tok.encode("a<sep>b")), (Strings{"a", "<sep>", "b"}));
  // Longest user-defined match wins: "<sep>" over "<se"; "<sex" has only "<se".
  EXPECT_EQ(pieces_of(tok, tok.encode("<sex")), (Strings{"<se", "<0x78>"}));
}

TEST(SpmTokenizer, ControlPiecesAreNeverProducedFromText) {
  // "<s>" in the text must not become BOS: control pieces are not merge targets.
  const auto tok = make_tokenizer({{"<", -9}, {"s", -9}, {">", -9}, {"<s", -1}}, true, false);
  EXPECT_EQ(pieces_of(tok, tok.encode("<s>")), (Strings{"<s", ">"}));
}

TEST(SpmTokenizer, SpecialTokensOnRequest) {
  const auto tok = hello_tokenizer();
  const auto ids = tok.encode("he", {.add_bos = true, .add_eos = true});
  EXPECT_EQ(pieces_of(tok, ids), (Strings{"<s>", "▁he", "</s>"}));
  EXPECT_EQ(tok.decode(ids), "he");  // control pieces decode to nothing
}

TEST(SpmTokenizer, DecodeRules) {
  const auto tok = hello_tokenizer();
  const auto& v = tok.vocab();
  const TokenId e2 = *v.byte_token(0xE2), x82 = *v.byte_token(0x82), xac = *v.byte_token(0xAC);
  EXPECT_EQ(tok.decode({e2, x82, xac}), "€");  // bytes reassemble a 3-byte character
  const TokenId hell = *v.find("▁hell"), o = *v.find("o");
  EXPECT_EQ(tok.decode({hell, o}), "hello");
  EXPECT_EQ(tok.decode({hell, o}, {.strip_dummy_prefix = false}), " hello");
  EXPECT_EQ(tok.decode({hell, o, hell, o}), "hello hello");
  // "▁" spelled with byte pieces still counts as the dummy prefix / a space.
  EXPECT_EQ(tok.decode({*v.byte_token(0xE2), *v.byte_token(0x96), *v.byte_token(0x81), o}), "o");
  EXPECT_THROW(tok.decode({v.size()}), TokenizerError);
  EXPECT_THROW(tok.decode({-1}), TokenizerError);
}

TEST(SpmTokenizer, LinesAndNewlines) {
  const auto tok = hello_tokenizer();
  ASSERT_TRUE(tok.newline_id().has_value());
  EXPECT_EQ(tok.vocab().piece(*tok.newline_id()), "<0x0A>");
  // encode(): one sentence; '\n' is a byte token and gets no dummy prefix after it.
  EXPECT_EQ(pieces_of(tok, tok.encode("he\nhe")), (Strings{"▁he", "<0x0A>", "h", "e"}));
  // encode_lines(): each line as its own sentence; empty line → nothing; trailing '\n' kept.
  EXPECT_EQ(pieces_of(tok, tok.encode_lines("he\n\nhe\n")),
            (Strings{"▁he", "<0x0A>", "<0x0A>", "▁he", "<0x0A>"}));
  EXPECT_EQ(tok.decode_lines(tok.encode_lines("he\n\nhe\n")), "he\n\nhe\n");
  EXPECT_EQ(tok.decode_lines(tok.encode_lines(" a\n  ")), " a\n  ");
  EXPECT_TRUE(tok.encode_lines("").empty());
  EXPECT_EQ(pieces_of(tok, tok.encode_lines("he", {.add_bos = true, .add_eos = true})),
            (Strings{"<s>", "▁he", "</s>"}));
}

TEST(SpmTokenizer, BosEosMissingThrows) {
  auto spec = testing::make_spec({{"a", 0}});
  spec.bos_id = kNoToken;
  spec.eos_id = kNoToken;
  const SpmTokenizer tok{SpmVocab(spec)};
  EXPECT_THROW(tok.encode("a", {.add_bos = true}), TokenizerError);
  EXPECT_THROW(tok.encode("a", {.add_eos = true}), TokenizerError);
  EXPECT_NO_THROW(tok.encode("a"));
}

}  // namespace
}  // namespace fedlora::lora
