#pragma once
// A tiny llama GGUF (random weights, byte-level vocabulary) for end-to-end tests that must not
// depend on the committed base model.
#include <filesystem>

namespace fedlora::test {
/// Writes a GGUF with a random 2-layer model (dim 64, context 32) and a 259-piece vocabulary
/// (<unk>, <s>, </s> and the 256 byte pieces, so every character is byte-fallback encoded).
/// With `word_pieces`, also "▁", the letters a-z and "▁a".."▁z" (merged first), so words start
/// with a "▁x" token as in a real SentencePiece vocabulary (for next-word evaluation).
void write_tiny_model(const std::filesystem::path& path, uint64_t seed, bool word_pieces = false);
}  // namespace fedlora::test
