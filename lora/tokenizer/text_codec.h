#pragma once
// The tokenizer a GGUF base carries, whichever family it is: SentencePiece
// (tokenizer.ggml.model = "llama") or byte-level BPE ("gpt2"), behind one interface for the
// tools that turn text into ids and back (eval, suggest, generate).
#include <memory>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "lora/tokenizer/bpe_tokenizer.h"
#include "lora/tokenizer/spm_tokenizer.h"
#include "lora/tokenizer/word_vocab.h"

namespace fedlora::lora {

namespace gguf { class GgufFile; }

class TextCodec {
 public:
  /// Reads the vocabulary of `file`. Throws TokenizerError naming tokenizer.ggml.model when it
  /// is neither "llama" nor "gpt2", and the readers' errors for a malformed vocabulary.
  static TextCodec from_gguf(const gguf::GgufFile& file);

  /// Text as the simulator encodes an example, with BOS/EOS around it where asked. SPM: each
  /// line encoded as spm_encode sees it, joined by <0x0A>; BPE: the whole text, newlines
  /// included (byte-level BPE has a token for every byte).
  std::vector<TokenId> encode_example(std::string_view text, bool add_bos, bool add_eos) const;
  /// A prompt: BOS (if the vocabulary has one) and the text as one sentence.
  std::vector<TokenId> encode_prompt(std::string_view text) const;
  /// Text of ids that continue a prompt (a leading space is kept).
  std::string decode_continuation(const std::vector<TokenId>& ids) const;
  /// End-of-sequence id, or kNoToken.
  TokenId eos_id() const;
  const WordVocab& words() const { return *words_; }
  /// "sentencepiece" or "bpe", for messages.
  const char* family() const { return std::holds_alternative<SpmTokenizer>(tok_) ? "sentencepiece" : "bpe"; }

 private:
  explicit TextCodec(std::variant<SpmTokenizer, BpeTokenizer> tok);
  std::variant<SpmTokenizer, BpeTokenizer> tok_;
  std::shared_ptr<const WordVocab> words_;
};

}  // namespace fedlora::lora
