#pragma once
// Next-word prediction for a keyboard (Hard et al. 2018, "Federated Learning for Mobile
// Keyboard Prediction", §2-3): given the text up to a word boundary, the k most likely next
// words. A subword model spells a word over several tokens, so candidates come from a beam
// search over tokens until the word ends (WordVocab), each word scored as
//   P(word) = P(t1 | ctx) · Π P(t_i | ctx, t1..t_{i-1}) · P(the next token does not continue it),
// and candidates with the same surface text (different tokenizations) have their
// probabilities summed. Uses the KV cache, so each beam step is one position of work.
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "lora/model/decoder.h"
#include "lora/tokenizer/word_vocab.h"

namespace fedlora::lora {

struct NextWordOptions {
  int k = 3;               ///< suggestions returned
  int beam = 8;            ///< partial words kept per step
  int max_word_tokens = 6; ///< longest word searched, in tokens
};

struct WordSuggestion {
  std::string word;    ///< without the leading space
  double probability;  ///< P(word | context), summed over its tokenizations found
};

/// The k most likely next words after `context` (token ids, e.g. BOS + the typed text, ending
/// at a word boundary), most likely first. Only the last context_length − max_word_tokens
/// tokens are used. Throws std::invalid_argument on an empty context, a vocabulary whose size
/// differs from the model's, or options < 1.
std::vector<WordSuggestion> suggest_next_words(DecoderWeights& w, const WordVocab& vocab,
                                               std::span<const int32_t> context, const NextWordOptions& options = {});

/// Next-word recall on token sequences (each one example: BOS, the text's tokens, EOS):
/// at word starts, is the true next word the top suggestion (top-1) or among the first three
/// (top-3)? A true word longer than max_word_tokens counts as a miss.
struct NextWordEval {
  int64_t positions = 0;
  int64_t top1 = 0, top3 = 0;
  double top1_recall() const { return positions ? static_cast<double>(top1) / static_cast<double>(positions) : 0.0; }
  double top3_recall() const { return positions ? static_cast<double>(top3) / static_cast<double>(positions) : 0.0; }
  NextWordEval& operator+=(const NextWordEval& o) {
    positions += o.positions;
    top1 += o.top1;
    top3 += o.top3;
    return *this;
  }
};

/// Every word start at index >= 1 of every sequence, in order.
struct WordPosition {
  size_t sequence;
  size_t index;  ///< the word's first token
};
std::vector<WordPosition> word_starts(std::span<const std::vector<int32_t>> sequences, const WordVocab& vocab);

/// Evaluates next-word recall at `positions` (from word_starts) of `sequences`.
NextWordEval evaluate_next_words(DecoderWeights& w, const WordVocab& vocab,
                                 std::span<const std::vector<int32_t>> sequences,
                                 std::span<const WordPosition> positions, const NextWordOptions& options = {});

/// At most `max_positions` of `all`, evenly spaced (deterministic; all of them if fewer).
std::vector<WordPosition> spread_positions(const std::vector<WordPosition>& all, int64_t max_positions);

}  // namespace fedlora::lora
