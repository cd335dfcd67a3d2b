#pragma once
// Error type of the tokenizer library (fedlora_lora_tokenizer).

#include <stdexcept>
#include <string>

namespace fedlora::lora {

/// Thrown for an invalid vocabulary, a malformed SentencePiece `.model` file, a token id out
/// of range, a missing newline token, or a failed `spm_train` run. The message says what was
/// wrong, where, and what to do.
class TokenizerError : public std::runtime_error {
 public:
  explicit TokenizerError(const std::string& what) : std::runtime_error(what) {}
};

}  // namespace fedlora::lora
