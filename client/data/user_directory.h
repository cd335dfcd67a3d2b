#pragma once
// Generic per-user corpus (a): a directory with one UTF-8 text file per user.

#include <filesystem>

#include "client/data/corpus.h"
#include "client/data/split.h"

namespace fedlora::client::data {

/// Loads a directory in which each regular file holds one user's text.
///   - user id = file stem (name without its last extension: "alice.txt" → "alice");
///   - the file is split into documents on blank lines (as in split_blocks(); lines of a
///     document are joined with '\n'), kept in file order;
///   - users with fewer than options.min_examples documents are dropped and the rest split
///     by split_counts() — the LEAF / McMahan et al. 2017 §3 per-user 80/20 split.
/// Users are ordered by file name (byte-wise), so the result does not depend on the order
/// the file system lists entries. Hidden files (name starting with '.') and subdirectories
/// are skipped; symlinks to regular files are followed.
/// @throws DataError if `dir` is not a directory, holds no user files, two files share a
///         stem ("a.txt" and "a.md"), a file name is not UTF-8, a file cannot be read or is
///         not valid UTF-8 (path and byte offset), or options are invalid.
Corpus load_user_directory(const std::filesystem::path& dir, const SplitOptions& options = {});

}  // namespace fedlora::client::data
