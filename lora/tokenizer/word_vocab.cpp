#include "lora/tokenizer/word_vocab.h"

#include "lora/tokenizer/bpe_tokenizer.h"

namespace fedlora::lora {
namespace {

// Letters and digits of ASCII, and any byte of a multi-byte UTF-8 sequence (non-ASCII letters).
bool word_byte(unsigned char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80;
}

}  // namespace

WordRole WordVocab::role_of(const std::string& s) {
  if (s.empty()) return WordRole::breaks;
  const auto c0 = static_cast<unsigned char>(s[0]);
  if (c0 == ' ') return s.size() > 1 && word_byte(static_cast<unsigned char>(s[1])) ? WordRole::starts_word : WordRole::breaks;
  if (word_byte(c0)) return WordRole::continues_word;
  // An apostrophe followed by letters continues a word ("'s", "'ll"); a lone quote breaks it.
  if (c0 == '\'' && s.size() > 1 && word_byte(static_cast<unsigned char>(s[1]))) return WordRole::continues_word;
  return WordRole::breaks;
}

WordVocab WordVocab::from_spm(const SpmVocab& vocab) {
  WordVocab w;
  static const std::string kSpace = "\xE2\x96\x81";  // U+2581
  for (TokenId id = 0; id < vocab.size(); ++id) {
    std::string s;
    const auto type = vocab.type(id);
    if (type == TokenType::byte) {
      s = std::string(1, static_cast<char>(vocab.byte_value(id)));
      // A lone byte of a multi-byte character cannot start a word; a raw space or newline breaks.
    } else if (type == TokenType::normal || type == TokenType::user_defined) {
      const std::string& p = vocab.piece(id);
      for (size_t i = 0; i < p.size();) {
        if (p.compare(i, kSpace.size(), kSpace) == 0) {
          s += ' ';
          i += kSpace.size();
        } else {
          s += p[i++];
        }
      }
    }
    w.role.push_back(role_of(s));
    w.surface.push_back(std::move(s));
  }
  return w;
}

WordVocab WordVocab::from_bpe(const BpeTokenizer& tokenizer) {
  WordVocab w;
  const auto n = static_cast<TokenId>(tokenizer.vocab().tokens.size());
  for (TokenId id = 0; id < n; ++id) {
    const TokenId one[] = {id};
    const bool control = tokenizer.vocab().types[static_cast<size_t>(id)] == 3;  // llama.cpp LLAMA_TOKEN_TYPE_CONTROL
    std::string s = control ? std::string() : tokenizer.decode(one);
    w.role.push_back(role_of(s));
    w.surface.push_back(std::move(s));
  }
  return w;
}

}  // namespace fedlora::lora
