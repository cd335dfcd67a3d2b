#pragma once
// A user's texts as language-model examples for the on-device model.
#include <string>
#include <vector>

#include "client/data/user_data.h"
#include "lora/model/lm_batch.h"
#include "lora/tokenizer/text_codec.h"

namespace fedlora::client {

/// Token windows of one user: train from the user's train texts, test from the test texts.
struct UserExamples {
  std::string user_id;
  std::vector<lora::TokenSeq> train;
  std::vector<lora::TokenSeq> test;
  size_t train_targets() const;  ///< Σ (len − 1) over train windows: tokens predicted
  size_t test_targets() const;
};

/// Tokenizes each text as <s> encode_lines(text) </s> (per-line SentencePiece encoding as
/// the vocabulary was trained, lines joined by the newline byte token), concatenates the
/// texts of each split in order, and cuts the stream into windows of context_length + 1
/// tokens (lora::make_windows). Throws std::invalid_argument if context_length < 1.
UserExamples tokenize_user(const data::UserData& user, const lora::TextCodec& tokenizer, int64_t context_length);

/// The token stream of a list of texts, as tokenize_user builds it before windowing.
std::vector<int32_t> token_stream(const std::vector<std::string>& texts, const lora::TextCodec& tokenizer);

}  // namespace fedlora::client
