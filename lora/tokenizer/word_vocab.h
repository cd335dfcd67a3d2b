#pragma once
// Which tokens start, continue or break a word: what next-word prediction (Hard et al. 2018,
// "Federated Learning for Mobile Keyboard Prediction") needs from a subword vocabulary. A word
// is a letter/digit run (apostrophes inside allowed, as in "o'er"); it begins with a token whose
// text is a space followed by a letter or digit ("▁thee" in SentencePiece, "Ġthee" in
// byte-level BPE), continues with tokens that begin with a letter, digit or a non-ASCII byte,
// and ends at the first token that does neither (a new word, punctuation, a line break, EOS).
#include <cstdint>
#include <string>
#include <vector>

#include "lora/tokenizer/spm_tokenizer.h"

namespace fedlora::lora {

class BpeTokenizer;

enum class WordRole : uint8_t {
  starts_word,     ///< " thee": opens a new word
  continues_word,  ///< "ee", "'s": extends the current word
  breaks,          ///< ",", "\n", " ", control tokens: no word goes on through it
};

/// Per-token surface text (UTF-8 bytes, a leading space where the piece has one) and role.
struct WordVocab {
  std::vector<std::string> surface;
  std::vector<WordRole> role;

  /// From a SentencePiece vocabulary: "▁" is a space, <0xNN> byte pieces are their byte,
  /// control/unknown pieces break words.
  static WordVocab from_spm(const SpmVocab& vocab);
  /// From a byte-level BPE tokenizer: each token's decoded bytes.
  static WordVocab from_bpe(const BpeTokenizer& tokenizer);
  /// The role a token with this surface text plays (used by both constructors).
  static WordRole role_of(const std::string& surface);
  size_t size() const { return role.size(); }
};

}  // namespace fedlora::lora
