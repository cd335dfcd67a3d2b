#pragma once
// Hand-built vocabularies for the tokenizer tests.

#include <string>
#include <vector>

#include "lora/tokenizer/spm_tokenizer.h"
#include "lora/tokenizer/spm_vocab.h"

namespace fedlora::lora::testing {

struct Piece {
  std::string text;
  float score = 0.0f;
  TokenType type = TokenType::normal;
};

/// Ids 0 <unk>, 1 <s>, 2 </s>; then, with byte fallback, <0x00>..<0xFF> at 3..258; then
/// `extra` in order.
inline SpmVocabSpec make_spec(const std::vector<Piece>& extra, bool byte_fallback = true,
                              bool add_dummy_prefix = true) {
  SpmVocabSpec s;
  const auto add = [&](const std::string& p, float score, TokenType t) {
    s.pieces.push_back(p);
    s.scores.push_back(score);
    s.types.push_back(t);
  };
  add("<unk>", 0, TokenType::unknown);
  add("<s>", 0, TokenType::control);
  add("</s>", 0, TokenType::control);
  if (byte_fallback) {
    for (int b = 0; b < 256; ++b) add(byte_piece(static_cast<std::uint8_t>(b)), 0, TokenType::byte);
  }
  for (const auto& p : extra) add(p.text, p.score, p.type);
  s.byte_fallback = byte_fallback;
  s.add_dummy_prefix = add_dummy_prefix;
  return s;
}

inline SpmTokenizer make_tokenizer(const std::vector<Piece>& extra, bool byte_fallback = true,
                                   bool add_dummy_prefix = true) {
  return SpmTokenizer(SpmVocab(make_spec(extra, byte_fallback, add_dummy_prefix)));
}

/// The piece texts of `ids`, for readable expectations.
inline std::vector<std::string> pieces_of(const SpmTokenizer& tok, const std::vector<TokenId>& ids) {
  std::vector<std::string> out;
  for (const TokenId id : ids) out.push_back(tok.vocab().piece(id));
  return out;
}

}  // namespace fedlora::lora::testing
