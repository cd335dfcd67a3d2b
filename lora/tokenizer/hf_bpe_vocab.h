#pragma once
// Byte-level BPE vocabularies from a Hugging Face `tokenizer.json` (tokenizers library
// serialization: {"added_tokens": [...], "normalizer", "pre_tokenizer",
// "model": {"type": "BPE", "vocab": {token: id}, "merges": ["a b", ...] or [["a", "b"], ...]},
// "decoder": {"type": "ByteLevel"}}) and their GGUF form as llama.cpp writes it
// (convert_hf_to_gguf.py `get_vocab_base` / `_set_vocab_gpt2`):
//   tokenizer.ggml.model = "gpt2", tokenizer.ggml.pre = <pre-tokenizer name>,
//   tokenizer.ggml.tokens (arr[str], id order; ids with no token become "[PAD<id>]", type
//   unused), tokenizer.ggml.token_type (arr[i32]: 1 normal, 3 control for special added
//   tokens, 4 user-defined for other added tokens, 5 unused), tokenizer.ggml.merges
//   (arr[str] "left right"), bos/eos ids (u32) and add_bos/add_eos (bool) when known.
//
// Pre-tokenizers recognised, by their structure in tokenizer.json (llama.cpp identifies them
// by hashing the tokenizer's output instead; the names are llama.cpp's LLAMA_VOCAB_PRE_TYPE):
//   "smollm"    : Sequence[Digits(individual_digits=true), ByteLevel(use_regex=true)] (SmolLM2)
//   "llama-bpe" : Sequence[Split(Llama-3 regex, \p{N}{1,3}), ByteLevel(use_regex=false)]
//   "qwen2"     : Sequence[Split(Qwen2 regex, \p{N}), ByteLevel(use_regex=false)]
// Anything else is refused with a message naming what was found.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lora/format/gguf_reader.h"
#include "lora/format/gguf_writer.h"

namespace fedlora::lora {

/// A byte-level BPE vocabulary (GPT-2 style: bytes mapped to printable code points).
struct BpeVocab {
  std::vector<std::string> tokens;   ///< id -> token text (byte-level alphabet)
  std::vector<int32_t> types;        ///< id -> llama.cpp token type id (1, 3, 4 or 5)
  std::vector<std::string> merges;   ///< "left right", highest priority first
  std::string pre;                   ///< llama.cpp pre-tokenizer name ("smollm", ...)
  std::optional<uint32_t> bos_id, eos_id, pad_id;
  std::optional<bool> add_bos, add_eos;
};

/// Parses tokenizer.json text. `vocab_size` (config.json) is the number of ids to emit: ids
/// the file does not define become "[PAD<id>]" of type unused. Throws TokenizerError naming
/// `source` and the key if the text is not JSON, the model is not BPE, byte_fallback is on
/// (a SentencePiece-style tokenizer.json: import its tokenizer.model instead), the decoder is
/// not ByteLevel, the pre-tokenizer or normalizer is not one listed above, an id is negative,
/// duplicated or >= vocab_size, or a merge is not two non-empty tokens.
BpeVocab parse_hf_tokenizer_json(std::string_view json_text, int64_t vocab_size,
                                 std::string_view source = "tokenizer.json");

/// Special-token settings of tokenizer_config.json (transformers): add_bos_token,
/// add_eos_token and the bos/eos/pad token strings, looked up in `vocab.tokens`. Absent keys
/// leave `vocab` unchanged. Throws TokenizerError if the text is not a JSON object or a
/// named special token is not in the vocabulary.
void apply_hf_tokenizer_config(BpeVocab& vocab, std::string_view json_text,
                               std::string_view source = "tokenizer_config.json");

/// Writes the keys listed at the top of this file.
void write_gguf_bpe_vocab(const BpeVocab& vocab, gguf::GgufWriter& writer);

/// Reads them back. Throws TokenizerError if tokenizer.ggml.model is not "gpt2" or a key is
/// missing or inconsistent (tokens/types lengths, ids out of range).
BpeVocab read_gguf_bpe_vocab(const gguf::GgufFile& file);

}  // namespace fedlora::lora
