#pragma once
// The fixed byte-level BPE vocabulary of the bpe_tokenizer fuzz target, shared with the
// corpus maker (which also writes it as a tokenizer.json seed for hf_import).
#include <string>

#include "lora/tokenizer/hf_bpe_vocab.h"

namespace fedlora::fuzz {

/// GPT-2 bytes_to_unicode: the UTF-8 of the printable stand-in of byte `b` (0..255).
std::string gpt2_stand_in(int b);

/// 256 byte tokens, 22 merged tokens (English pairs, "é", "▁", digits; merges in rank
/// order), a user-defined token, then BOS and EOS (control) as the last two ids.
lora::BpeVocab fuzz_bpe_vocab(const char* pre);

}  // namespace fedlora::fuzz
