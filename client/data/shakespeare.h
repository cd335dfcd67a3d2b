#pragma once
// Shakespeare users, LEAF style: one federated user per speaking role.
//
// Source: Caldas et al. 2018, "LEAF: A Benchmark for Federated Settings" (Shakespeare task,
// one client per role, data/utils/split_data.py) and McMahan et al. 2017,
// "Communication-Efficient Learning of Deep Networks from Decentralized Data", §3 (one
// client per speaking role; each role's lines in order, first 80% train, last 20% test,
// rounded up to at least one). Unlike LEAF, roles are not split by play: the char-rnn
// "tinyshakespeare" file has no play labels, so a name such as "GLOUCESTER" is one user.

#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "client/data/corpus.h"
#include "client/data/split.h"

namespace fedlora::client::data {

/// $FEDLORA_DATA_DIR/shakespeare/tinyshakespeare.txt: the data set is not in the repository.
/// @throws std::runtime_error naming FEDLORA_DATA_DIR if it is unset (lora/format/data_dir.h).
std::filesystem::path tinyshakespeare_path();

/// One speech: the speaker's name and the speech body.
struct Speech {
  std::string speaker;      ///< normalised name (see parse_speaker_line)
  std::string text;         ///< body lines joined with '\n'; empty if the speaker line
                            ///< stands alone (e.g. a role whose only words were cut)
  std::size_t line = 0;     ///< 1-based line number of the speaker line
};

/// If `line` is a speaker line — a name followed by a colon and nothing else, such as
/// "First Citizen:" or "KING RICHARD III:" — returns the name with surrounding whitespace
/// trimmed and inner whitespace runs collapsed to one space ("LADY  CAPULET:" → "LADY
/// CAPULET"). The name must be non-empty, contain no ':' and at least one letter (ASCII or
/// non-ASCII). Otherwise returns nullopt. Names are case-sensitive ("Nurse" ≠ "NURSE").
std::optional<std::string> parse_speaker_line(std::string_view line);

/// Splits the text into speeches. Rule: speeches are blocks of non-blank lines separated by
/// one or more blank (empty or whitespace-only) lines; the first line of every block is its
/// speaker line, and only that line. A line inside a block that ends in a colon, even one
/// that looks exactly like a speaker line ("Come:"), is part of the speech body. Speeches are
/// returned in file order, empty-bodied ones included. Line endings may be LF or CRLF.
/// @param source  file path or label for error messages.
/// @throws DataError on invalid UTF-8 (byte offset) or if a block's first line is not a
///         speaker line (the message gives source:line and the line).
std::vector<Speech> parse_shakespeare_speeches(std::string_view text, std::string_view source);

/// Builds the Shakespeare population from the file's text: one user per speaker name, in
/// order of first appearance; each user's non-empty speeches in file order; users with fewer
/// than options.min_examples (min_speeches, default 2) non-empty speeches dropped; each
/// user's speeches split by split_counts() (first 80% train, last 20% test). Empty-bodied
/// speeches count in stats.examples_seen / examples_empty but are never examples.
/// On tinyshakespeare.txt with default options: 7,222 speeches, 308 speakers, 247 users kept.
/// @throws DataError as parse_shakespeare_speeches, or if options are invalid.
Corpus load_shakespeare(std::string_view text, const SplitOptions& options = {},
                        std::string_view source = "<shakespeare text>");

/// load_shakespeare() on the contents of the file at `path` (read_text_file()).
/// @throws DataError if the file cannot be read or is malformed.
Corpus load_shakespeare_file(const std::filesystem::path& path,
                             const SplitOptions& options = {});

}  // namespace fedlora::client::data
