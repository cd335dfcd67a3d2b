#pragma once
// Error type for every per-user dataset loader in client/data.

#include <stdexcept>
#include <string>

namespace fedlora::client::data {

/// Thrown when a corpus cannot be read or is malformed: missing file, invalid UTF-8,
/// a block without a speaker line, a bad JSONL record, bad split options. The message names
/// the source (file path or label), the position (line number or byte offset) when there is
/// one, what was wrong and what to do.
class DataError : public std::runtime_error {
 public:
  explicit DataError(const std::string& what) : std::runtime_error(what) {}
};

}  // namespace fedlora::client::data
