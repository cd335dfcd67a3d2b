#pragma once
// Generic per-user corpus (b): JSON Lines, one {"user": ..., "text": ...} example per line.

#include <filesystem>
#include <string_view>

#include "client/data/corpus.h"
#include "client/data/split.h"

namespace fedlora::client::data {

/// Parses JSON Lines text (https://jsonlines.org): each non-blank line is one JSON object
/// with a non-empty string "user" and a string "text" — one example of that user. Other
/// keys are ignored; blank (whitespace-only) lines are skipped; LF or CRLF endings.
/// Users are ordered by first appearance, each user's examples kept in file order; records
/// with an empty "text" count as seen but are not examples; users with fewer than
/// options.min_examples examples are dropped and the rest split by split_counts()
/// (the LEAF / McMahan et al. 2017 §3 per-user split).
/// @param source  file path or label, used in error messages.
/// @throws DataError on invalid UTF-8 (source and byte offset), on a line that is not valid
///         JSON, not an object, or lacks a string "user"/"text" or has an empty "user"
///         (source:line and the reason), or if options are invalid.
Corpus parse_user_jsonl(std::string_view text, const SplitOptions& options = {},
                        std::string_view source = "<jsonl text>");

/// parse_user_jsonl() on the file at `path` (read_text_file(): UTF-8 checked, BOM dropped).
/// @throws DataError as parse_user_jsonl, or if the file cannot be read.
Corpus load_user_jsonl(const std::filesystem::path& path, const SplitOptions& options = {});

}  // namespace fedlora::client::data
