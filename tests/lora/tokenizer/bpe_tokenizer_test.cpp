// Byte-level BPE: the hand-written pre-tokenizers against std::regex (ECMAScript) running the
// same regexes with ASCII classes on random ASCII text; hand-worked non-ASCII splits; merges
// worked by hand; lossless round trips on arbitrary bytes; and the refusals.
#include <gtest/gtest.h>

#include <random>
#include <regex>

#include "lora/tokenizer/bpe_tokenizer.h"
#include "lora/tokenizer/tokenizer_error.h"
#include "lora/tokenizer/unicode_ranges.h"

namespace fedlora::lora {
namespace {

using Pieces = std::vector<std::string>;

Pieces regex_split(const std::string& pattern, const std::string& text) {
  const std::regex re(pattern, std::regex::ECMAScript);
  Pieces out;
  size_t covered = 0;
  for (auto it = std::sregex_iterator(text.begin(), text.end(), re); it != std::sregex_iterator(); ++it) {
    if (static_cast<size_t>(it->position()) != covered) out.push_back(text.substr(covered, it->position() - covered));
    out.push_back(it->str());
    covered = it->position() + it->length();
  }
  if (covered < text.size()) out.push_back(text.substr(covered));
  return out;
}

// The families' regexes with \p{L} = [A-Za-z], \p{N} = [0-9] (exact on ASCII text) and the
// case-insensitive group spelled out, which ECMAScript lacks.
const std::string kGpt2 = R"('s|'t|'re|'ve|'m|'ll|'d| ?[A-Za-z]+| ?[0-9]+| ?[^\sA-Za-z0-9]+|\s+(?!\S)|\s+)";
std::string llama3_ascii(const char* digits) {
  return std::string(R"('[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD]|[^\r\nA-Za-z0-9]?[A-Za-z]+|[0-9])") +
         digits + R"(| ?[^\sA-Za-z0-9]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
}

Pieces smollm_reference(const std::string& text) {
  Pieces out;
  for (const auto& seg : regex_split("[0-9]", text))
    for (const auto& p : regex_split(kGpt2, seg)) out.push_back(p);
  return out;
}

std::string random_ascii(std::mt19937& rng, size_t n) {
  static const std::string alphabet = "aZbq sS tTlLdDmMrReEvV09 5 '\t\n\r.,!?-  \"(x)";
  std::uniform_int_distribution<size_t> pick(0, alphabet.size() - 1);
  std::string s;
  for (size_t i = 0; i < n; ++i) s += alphabet[pick(rng)];
  return s;
}

TEST(BpePreTokenizer, MatchesTheRegexesOnRandomAsciiText) {
  std::mt19937 rng(7);
  const std::string l3 = llama3_ascii("{1,3}"), qw = llama3_ascii("");
  for (int trial = 0; trial < 400; ++trial) {
    const auto text = random_ascii(rng, 1 + trial % 40);
    EXPECT_EQ(BpeTokenizer::pre_tokenize("llama-bpe", text), regex_split(l3, text)) << "[" << text << "]";
    EXPECT_EQ(BpeTokenizer::pre_tokenize("qwen2", text), regex_split(qw, text)) << "[" << text << "]";
    EXPECT_EQ(BpeTokenizer::pre_tokenize("smollm", text), smollm_reference(text)) << "[" << text << "]";
  }
}

TEST(BpePreTokenizer, HandWorkedCases) {
  EXPECT_EQ(BpeTokenizer::pre_tokenize("llama-bpe", "Hello world's 12345 !!\n\nok"),
            (Pieces{"Hello", " world", "'s", " ", "123", "45", " !!\n\n", "ok"}));
  EXPECT_EQ(BpeTokenizer::pre_tokenize("qwen2", "x 2024"), (Pieces{"x", " ", "2", "0", "2", "4"}));
  EXPECT_EQ(BpeTokenizer::pre_tokenize("smollm", "It'S 42   a"), (Pieces{"It", "'", "S", " ", "4", "2", "  ", " a"}));
  EXPECT_EQ(BpeTokenizer::pre_tokenize("llama-bpe", "It'S"), (Pieces{"It", "'S"}));
  // Non-ASCII letters and numbers: é, ö (Ll), 日本語 (Lo), Arabic-Indic digits (Nd), ¡ (Po).
  EXPECT_EQ(BpeTokenizer::pre_tokenize("llama-bpe", "h\xC3\xA9llo w\xC3\xB6rld"), (Pieces{"h\xC3\xA9llo", " w\xC3\xB6rld"}));
  EXPECT_EQ(BpeTokenizer::pre_tokenize("llama-bpe", "\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E" "12"),
            (Pieces{"\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E", "12"}));
  EXPECT_EQ(BpeTokenizer::pre_tokenize("llama-bpe", "\xD9\xA3\xD9\xA4\xD9\xA5\xD9\xA6"),
            (Pieces{"\xD9\xA3\xD9\xA4\xD9\xA5", "\xD9\xA6"}));
  EXPECT_EQ(BpeTokenizer::pre_tokenize("llama-bpe", "\xC2\xA1Hola!"), (Pieces{"\xC2\xA1Hola", "!"}));
  EXPECT_EQ(BpeTokenizer::pre_tokenize("smollm", "\xC2\xA1Hola!"), (Pieces{"\xC2\xA1", "Hola", "!"}));
  // Invalid UTF-8 is kept byte for byte.
  EXPECT_EQ(BpeTokenizer::pre_tokenize("llama-bpe", "a\xFF" "b"), (Pieces{"a", "\xFF" "b"}));
  EXPECT_THROW(BpeTokenizer::pre_tokenize("gpt-4o", "x"), TokenizerError);
}

TEST(UnicodeClasses, SpotChecks) {
  EXPECT_TRUE(unicode::is_letter(U'é'));
  EXPECT_TRUE(unicode::is_letter(U'日'));
  EXPECT_FALSE(unicode::is_letter(U'1'));
  EXPECT_TRUE(unicode::is_number(U'\u0663'));
  EXPECT_TRUE(unicode::is_number(U'\u00BD'));  // ½ (No)
  EXPECT_FALSE(unicode::is_number(U'a'));
  EXPECT_TRUE(unicode::is_whitespace(U'\u3000'));
  EXPECT_FALSE(unicode::is_whitespace(U'\u200B'));  // zero-width space is not White_Space
}

// GPT-2 bytes_to_unicode stand-in of an ASCII byte or space (Ġ = U+0120).
BpeVocab byte_vocab(std::string pre, std::vector<std::string> extra, std::vector<std::string> merges) {
  BpeVocab v;
  v.pre = std::move(pre);
  int n = 0;
  for (int b = 0; b < 256; ++b) {
    const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
    std::string s;
    unicode::append_utf8(s, printable ? static_cast<char32_t>(b) : static_cast<char32_t>(256 + n++));
    v.tokens.push_back(s);
  }
  for (auto& e : extra) v.tokens.push_back(e);
  v.tokens.push_back("<|endoftext|>");
  v.types.assign(v.tokens.size(), 1);
  v.types.back() = 3;
  v.merges = std::move(merges);
  v.eos_id = static_cast<uint32_t>(v.tokens.size() - 1);
  return v;
}

TEST(BpeTokenizer, MergesByRankWorkedByHand) {
  // Ids: 256 "Ġt", 257 "he", 258 "Ġthe", 259 "Ġth"; ranks: Ġ t (0), h e (1), Ġt he (2), Ġt h (3).
  BpeTokenizer tok(byte_vocab("smollm", {"\xC4\xA0t", "he", "\xC4\xA0the", "\xC4\xA0th"},
                              {"\xC4\xA0 t", "h e", "\xC4\xA0t he", "\xC4\xA0t h"}));
  // " the": Ġ t h e -> Ġt h e -> Ġt he -> Ġthe (rank 3 "Ġt h" never applies: "h e" ranks higher).
  EXPECT_EQ(tok.encode(" the"), (std::vector<TokenId>{258}));
  // "the" (no space): t h e -> t he.
  const auto t_id = static_cast<TokenId>(std::find(tok.vocab().tokens.begin(), tok.vocab().tokens.end(), "t") -
                                         tok.vocab().tokens.begin());
  EXPECT_EQ(tok.encode("the"), (std::vector<TokenId>{t_id, 257}));
  EXPECT_EQ(tok.encode(" the", false, true), (std::vector<TokenId>{258, 260}));
  EXPECT_EQ(tok.decode(std::vector<TokenId>{258, 260, t_id}), " thet");
}

TEST(BpeTokenizer, LlamaBpeLooksUpWholePiecesFirst) {
  // "Ġthe" is a token but no merge chain reaches it: llama-bpe (ignore_merges) still uses it.
  auto v = byte_vocab("llama-bpe", {"\xC4\xA0the"}, {});
  EXPECT_EQ(BpeTokenizer(v).encode(" the"), (std::vector<TokenId>{256}));
  v.pre = "smollm";
  EXPECT_EQ(BpeTokenizer(v).encode(" the").size(), 4u);
}

TEST(BpeTokenizer, RoundTripsArbitraryBytes) {
  std::mt19937 rng(3);
  for (const char* pre : {"smollm", "llama-bpe", "qwen2"}) {
    BpeTokenizer tok(byte_vocab(pre, {"\xC4\xA0t", "he"}, {"\xC4\xA0 t", "h e"}));
    for (int trial = 0; trial < 200; ++trial) {
      std::string s(static_cast<size_t>(trial % 30), '\0');
      for (auto& c : s) c = static_cast<char>(rng() & 0xFF);
      if (trial % 2) s = random_ascii(rng, trial % 30) + s;
      EXPECT_EQ(tok.decode(tok.encode(s)), s) << pre;
    }
  }
}

TEST(BpeTokenizer, RefusesIncompleteOrUnknownVocabularies) {
  auto v = byte_vocab("smollm", {}, {});
  v.tokens[65] = "A_not_a_byte";
  EXPECT_THROW(BpeTokenizer{v}, TokenizerError);
  auto w = byte_vocab("tekken", {}, {});
  try {
    BpeTokenizer{w};
    ADD_FAILURE();
  } catch (const TokenizerError& e) {
    EXPECT_NE(std::string(e.what()).find("tekken"), std::string::npos);
  }
  auto x = byte_vocab("qwen2", {}, {});
  x.bos_id.reset();
  EXPECT_THROW(BpeTokenizer(x).encode("a", true), TokenizerError);
}

}  // namespace
}  // namespace fedlora::lora
