#pragma once
// A real device's own text (`fedlora-client run --data PATH`), in the formats the simulator
// reads: a UTF-8 text file (documents separated by blank lines), a directory of such files
// (all of them this user's), or a JSONL file of {"user", "text"} records of exactly one user.
// All of it is training data: a device keeps no held-out split.
#include <filesystem>
#include <string>
#include <vector>

#include "client/train/user_examples.h"
#include "lora/tokenizer/text_codec.h"

namespace fedlora::client {

/// The device's documents, in source order. Throws data::DataError naming the file (and
/// line) for unreadable or invalid UTF-8 input, a JSONL file with more than one user or a
/// malformed record, or no text at all.
std::vector<std::string> load_device_texts(const std::filesystem::path& path);

/// Tokenized training windows of those texts (tokenize_user with every text in train).
UserExamples device_examples(const std::string& device_id, const std::vector<std::string>& texts,
                             const lora::TextCodec& tokenizer, std::int64_t context_length);

}  // namespace fedlora::client
