#pragma once
// Reader for SentencePiece `.model` files (a serialized sentencepiece.ModelProto), parsed
// from the protobuf wire format by hand so that no protobuf runtime or libsentencepiece is
// linked (see docs/build.md: Debian's libsentencepiece bundles protobuf 3.14).
//
// Fields read (sentencepiece_model.proto, SentencePiece ≥ 0.1.9x):
//   ModelProto      1 pieces (repeated SentencePiece), 2 trainer_spec, 3 normalizer_spec,
//                   5 denormalizer_spec
//   SentencePiece   1 piece (string), 2 score (float), 3 type (enum, default NORMAL = 1)
//   TrainerSpec     3 model_type (BPE = 2), 24 treat_whitespace_as_suffix, 35 byte_fallback,
//                   40 unk_id, 41 bos_id, 42 eos_id, 43 pad_id
//   NormalizerSpec  1 name, 2 precompiled_charsmap, 3 add_dummy_prefix,
//                   4 remove_extra_whitespaces, 5 escape_whitespaces
// Other fields are skipped. Proto2 defaults apply to absent fields. Reading the `.model`
// rather than the `.vocab` text file gives the exact float scores and the stored types.

#include <filesystem>
#include <string_view>

#include "lora/tokenizer/spm_vocab.h"

namespace fedlora::lora {

/// Parses the bytes of a `.model` file into a validated SpmVocab (add_bos = true,
/// add_eos = false: llama.cpp's defaults for SPM vocabularies; the .model has no such flag).
/// Throws TokenizerError, naming `source` (a file name for messages), if the bytes are not a
/// well-formed ModelProto (truncated varint or field, bad wire type, length past the end) or
/// if the model is one our encoder does not implement: model_type other than BPE, a
/// non-identity normaliser (non-empty precompiled_charsmap) or denormaliser,
/// remove_extra_whitespaces, escape_whitespaces off, or treat_whitespace_as_suffix.
/// Never reads out of bounds, whatever the bytes.
SpmVocab parse_spm_model(std::string_view bytes, std::string_view source = "<memory>");

/// Reads and parses a `.model` file (at most 1 GiB). Throws TokenizerError if it cannot be
/// read or does not parse (see parse_spm_model).
SpmVocab load_spm_model(const std::filesystem::path& path);

}  // namespace fedlora::lora
