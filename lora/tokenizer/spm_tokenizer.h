#pragma once
// SentencePiece BPE encoder/decoder, written from the algorithm of SentencePiece's
// `bpe::Model::SampleEncode` (src/bpe_model.cc, without BPE-dropout) and llama.cpp's
// `llm_tokenizer_spm` (src/llama-vocab.cpp), so that we never link libsentencepiece.
//
// Reference: T. Kudo and J. Richardson, "SentencePiece: A simple and language independent
// subword tokenizer and detokenizer for Neural Text Processing", EMNLP 2018, §3
// (whitespace as the meta symbol U+2581, lossless tokenization); BPE after Sennrich et al.,
// ACL 2016.
//
// Text model supported (what `train_spm_vocab` produces, and what Llama-family GGUF files
// use): identity normalisation, escape spaces as "▁", `add_dummy_prefix` on or off, no
// removal of extra whitespace, whitespace as prefix.
//
// Lines and newlines. `spm_train` reads its corpus one line per sentence, so the vocabulary
// never contains "\n" and the model never saw a line break; every line got its own dummy
// prefix "▁". Two ways to encode multi-line text:
// - `encode(text)`: the whole string as one sentence, exactly like llama.cpp's
//   `llama_tokenize(..., add_special=false, parse_special=false)` for an SPM vocabulary:
//   one dummy prefix at the start, each '\n' becomes the byte-fallback token <0x0A>.
// - `encode_lines(text)`: split at '\n', encode each line as `spm_encode` does (its own
//   dummy prefix, nothing for an empty line), and join the lines with <0x0A>. This matches
//   the training distribution; `decode_lines` inverts it exactly.

#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lora/tokenizer/spm_vocab.h"

namespace fedlora::lora {

/// Which special tokens `encode` adds around the pieces.
struct EncodeOptions {
  bool add_bos = false;  ///< prepend vocab.bos_id() (throws if the vocab has none)
  bool add_eos = false;  ///< append vocab.eos_id() (throws if the vocab has none)
};

/// How `decode` renders tokens.
struct DecodeOptions {
  /// Remove the space that the dummy prefix "▁" became, at the start of the output (only if
  /// the vocab has add_dummy_prefix). Turn off to decode a continuation in the middle of a
  /// text, e.g. next-word suggestions, where the leading space is real.
  bool strip_dummy_prefix = true;
};

/// Encoder/decoder for one SpmVocab. Immutable and thread-safe after construction.
class SpmTokenizer {
 public:
  explicit SpmTokenizer(SpmVocab vocab);

  const SpmVocab& vocab() const noexcept { return vocab_; }

  /// Token ids of `text` (bytes, normally UTF-8), treated as one sentence:
  /// 1. normalise: if text is non-empty and add_dummy_prefix, prepend "▁"; replace every
  ///    U+0020 with "▁" (no other character is changed);
  /// 2. split into symbols: user-defined pieces first (longest match), otherwise one
  ///    well-formed UTF-8 character; each byte that is not part of well-formed UTF-8 becomes
  ///    a symbol of its own;
  /// 3. repeatedly merge the adjacent pair whose concatenation is a normal/user-defined/
  ///    unused piece with the highest score (ties: the leftmost pair), with a priority queue:
  ///    O(n log n) in the number of symbols; user-defined symbols are never merged further;
  /// 4. a symbol that is an unused piece is split back into the two symbols it was merged
  ///    from (recursively), as SentencePiece does;
  /// 5. a symbol that is not a piece: with byte fallback, one <0xXX> token per byte;
  ///    without, unk_id (a run of such symbols gives a single unk_id, as in SentencePiece).
  /// Empty text gives no pieces. Never throws for any input bytes, except that
  /// EncodeOptions asking for a BOS/EOS the vocab lacks throws TokenizerError.
  /// Deviation from SentencePiece on invalid UTF-8 only: SentencePiece's normaliser turns
  /// each bad byte into U+FFFD; we keep the byte (so decode(encode(x)) == x for any bytes,
  /// except that a literal "▁" U+2581 in x is the space symbol and decodes as ' ', as in
  /// SentencePiece; found by fuzz/ spm_tokenizer).
  std::vector<TokenId> encode(std::string_view text, EncodeOptions options = {}) const;

  /// Encodes each '\n'-separated line as `encode` does (own dummy prefix; an empty line
  /// gives no tokens) and puts newline_id() between consecutive lines; a trailing '\n' gives
  /// a trailing newline token. Throws TokenizerError if the vocab has no newline token.
  std::vector<TokenId> encode_lines(std::string_view text, EncodeOptions options = {}) const;

  /// Text of `ids`: byte pieces contribute their byte (consecutive bytes thus reassemble
  /// multi-byte UTF-8), normal/user-defined/unused pieces their text, control pieces
  /// nothing, the unknown piece " ⁇ " (SentencePiece's default unk_surface); then every "▁"
  /// becomes a space, after removing one leading "▁" if options.strip_dummy_prefix and the
  /// vocab has add_dummy_prefix. Bytes that do not form valid UTF-8 are returned as they are
  /// (llama.cpp's behaviour; SentencePiece would write U+FFFD).
  /// Throws TokenizerError for an id outside [0, vocab size).
  std::string decode(const std::vector<TokenId>& ids, DecodeOptions options = {}) const;

  /// Inverse of encode_lines: splits `ids` at newline_id(), decodes each part with `decode`
  /// (dummy prefix stripped per line) and joins the parts with '\n'.
  /// Throws TokenizerError for an id out of range or if the vocab has no newline token.
  std::string decode_lines(const std::vector<TokenId>& ids) const;

  /// The token that stands for '\n': the byte piece <0x0A> if present, else a normal piece
  /// "\n" (llama.cpp's `linefeed_id` rule for SPM vocabularies); nullopt if neither exists.
  std::optional<TokenId> newline_id() const noexcept { return newline_id_; }

 private:
  void encode_sentence(std::string_view text, std::vector<TokenId>& out) const;
  TokenId require_newline(const char* where) const;

  SpmVocab vocab_;
  std::optional<TokenId> newline_id_;
  // User-defined pieces by first byte, longest first: the prefix match costs O(1) per
  // position unless the text really starts a user-defined piece there.
  std::array<std::vector<TokenId>, 256> user_defined_by_first_byte_;
};

}  // namespace fedlora::lora
