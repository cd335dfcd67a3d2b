#pragma once
// SpmVocab <-> GGUF metadata, with llama.cpp's standard tokenizer keys, so a model written
// here tokenizes the same in llama.cpp, and a llama-family GGUF made elsewhere (Llama 2,
// TinyLlama, ...) gives us its vocabulary.
//
// Sources: GGUF spec (ggml docs/gguf.md, "Tokenizer" keys); llama.cpp src/llama-vocab.cpp
// (`llama_vocab::impl::load`: "llama" = SPM, default ids unk 0 / bos 1 / eos 2, SPM
// defaults add_bos = true, add_eos = false, add_space_prefix = true; `tokenizer.ggml.pre`
// is only read for BPE vocabularies); gguf-py (`add_token_types` writes an i32 array,
// special token ids are u32), and convert_hf_to_gguf.py, which writes pre = "default" for
// SentencePiece vocabularies.

#include <string_view>

#include "lora/format/gguf_reader.h"
#include "lora/format/gguf_writer.h"
#include "lora/tokenizer/spm_vocab.h"

namespace fedlora::lora {

namespace gguf_keys {
inline constexpr std::string_view kModel = "tokenizer.ggml.model";              // str "llama"
inline constexpr std::string_view kPre = "tokenizer.ggml.pre";                  // str "default"
inline constexpr std::string_view kTokens = "tokenizer.ggml.tokens";            // arr[str]
inline constexpr std::string_view kScores = "tokenizer.ggml.scores";            // arr[f32]
inline constexpr std::string_view kTokenType = "tokenizer.ggml.token_type";     // arr[i32]
inline constexpr std::string_view kBosId = "tokenizer.ggml.bos_token_id";       // u32
inline constexpr std::string_view kEosId = "tokenizer.ggml.eos_token_id";       // u32
inline constexpr std::string_view kUnkId = "tokenizer.ggml.unknown_token_id";   // u32
inline constexpr std::string_view kPadId = "tokenizer.ggml.padding_token_id";   // u32
inline constexpr std::string_view kAddBos = "tokenizer.ggml.add_bos_token";     // bool
inline constexpr std::string_view kAddEos = "tokenizer.ggml.add_eos_token";     // bool
inline constexpr std::string_view kAddSpacePrefix = "tokenizer.ggml.add_space_prefix";  // bool
inline constexpr std::string_view kRemoveExtraWhitespaces = "tokenizer.ggml.remove_extra_whitespaces";
inline constexpr std::string_view kSpmModelName = "llama";
}  // namespace gguf_keys

/// Sets the tokenizer keys of `vocab` on `writer` (replacing earlier values):
/// model "llama", pre "default", tokens (arr[str]), scores (arr[f32]), token_type
/// (arr[i32], the TokenType ids), unknown/bos/eos token ids and, if the vocab has one, the
/// padding token id (u32), add_bos_token, add_eos_token and add_space_prefix (bool).
/// Byte fallback is not a key: llama.cpp infers it from the byte-typed tokens.
/// Throws TokenizerError if the vocab has no BOS or no EOS: for model "llama", llama.cpp
/// (and read_gguf_vocab) take a missing id to mean 1 / 2, so "none" cannot be stored.
void write_gguf_vocab(const SpmVocab& vocab, gguf::GgufWriter& writer);

/// Reads the vocabulary from a GGUF file's metadata. Requires `tokenizer.ggml.model` =
/// "llama" and the tokens, scores and token_type arrays (llama.cpp would default missing
/// scores to 0 and types to normal, which silently breaks the BPE merge order; we refuse).
/// Special ids default as in llama.cpp (unk 0, bos 1, eos 2, no pad); add_bos / add_eos /
/// add_space_prefix default to true / false / true. byte_fallback is true iff the vocab has
/// byte-typed tokens (all 256 are then required).
/// Throws TokenizerError for a missing key, another tokenizer model (e.g. "gpt2"),
/// remove_extra_whitespaces = true (not implemented) or a vocabulary SpmVocab rejects;
/// gguf::FormatError (from the reader) for a key of the wrong type.
SpmVocab read_gguf_vocab(const gguf::GgufFile& file);

}  // namespace fedlora::lora
