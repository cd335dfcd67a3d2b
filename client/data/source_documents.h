#pragma once
// The source documents a Dirichlet partition (dirichlet_partition.h) draws users from.
#include <filesystem>
#include <string>
#include <vector>

namespace fedlora::client::data {

/// Documents in a fixed order, each a UTF-8 text, held once in memory and shared by every
/// synthetic user (a user holds only chunk ids into them).
struct SourceDocuments {
  std::vector<std::string> names;  ///< file name, or "FILE:LINE" for a JSONL record
  std::vector<std::string> texts;
  std::size_t bytes() const;       ///< Σ text sizes
};

/// A directory: every regular *.txt file in it (not recursive), sorted by name, one document
/// each. A file: JSONL, one document per non-blank line {"text": "..."} (other keys ignored).
/// Texts are read with read_text_file (UTF-8 checked, BOM dropped).
/// @throws DataError naming the path (missing, no .txt files, no non-empty document) or the
///         file:line of a bad JSONL record.
SourceDocuments load_source_documents(const std::filesystem::path& path);

}  // namespace fedlora::client::data
