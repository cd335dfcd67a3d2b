#pragma once
// Byte-level BPE encoder/decoder (GPT-2 style; Radford et al. 2019 §2.2) for the vocabularies
// import-hf writes (hf_bpe_vocab.h), following llama.cpp's `llm_tokenizer_bpe`
// (src/llama-vocab.cpp) and the Hugging Face tokenizers pipeline:
//   1. pre-tokenize: split the text with the family's regex (below), written out by hand as
//      llama.cpp's unicode_regex_split_custom_* do, on Unicode classes from unicode_ranges.h;
//   2. map each byte of a piece to its printable stand-in (GPT-2 `bytes_to_unicode`);
//   3. merge adjacent symbols, lowest merge rank first (leftmost on ties), until no pair
//      has a rank; "llama-bpe" first looks the whole piece up (`ignore_merges`, as
//      llama.cpp does for that pre-tokenizer);
//   4. emit the ids (every single byte stand-in is required in the vocabulary).
// Pre-tokenizer regexes:
//   smollm    : \p{N} (each digit alone), then GPT-2's
//               's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
//   llama-bpe : (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|
//               ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
//   qwen2     : the same with \p{N} (one digit at a time)
// Not implemented (documented deviations): added/special tokens written in the text are not
// matched (the text is plain text, like llama_tokenize with parse_special = false); Qwen2's
// NFC normaliser is not applied (llama.cpp does not apply it either).
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "lora/tokenizer/hf_bpe_vocab.h"
#include "lora/tokenizer/spm_vocab.h"

namespace fedlora::lora {

class BpeTokenizer {
 public:
  /// Throws TokenizerError if vocab.pre is not one of the three above, a byte stand-in is
  /// missing from the tokens, or the token/type arrays differ in length.
  explicit BpeTokenizer(BpeVocab vocab);

  const BpeVocab& vocab() const noexcept { return vocab_; }

  /// Pieces of `text` after pre-tokenization `pre` (raw bytes; they concatenate to `text`).
  /// Throws TokenizerError for an unknown `pre`. Never throws for any bytes.
  static std::vector<std::string> pre_tokenize(std::string_view pre, std::string_view text);

  /// Token ids of `text`, with BOS prepended / EOS appended when asked (TokenizerError if the
  /// vocabulary has none). Never throws otherwise, for any bytes.
  std::vector<TokenId> encode(std::string_view text, bool add_bos = false, bool add_eos = false) const;

  /// Text of `ids`: normal tokens are mapped back to bytes, user-defined tokens are their
  /// text, control and unused tokens give "". Throws TokenizerError for an id out of range.
  std::string decode(std::span<const TokenId> ids) const;

 private:
  void bpe(const std::string& mapped, std::vector<TokenId>& out) const;

  BpeVocab vocab_;
  bool ignore_merges_ = false;
  std::unordered_map<std::string, TokenId> ids_;
  std::unordered_map<std::string, int> ranks_;  // "left right" -> rank
  std::vector<std::string> byte_char_;          // byte -> UTF-8 of its stand-in
  std::unordered_map<char32_t, unsigned char> char_byte_;
};

}  // namespace fedlora::lora
