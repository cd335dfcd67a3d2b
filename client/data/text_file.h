#pragma once
// Reading a whole UTF-8 text file, for the per-user corpus loaders.

#include <filesystem>
#include <string>

namespace fedlora::client::data {

/// Reads the whole file at `path` as bytes, checks that it is valid UTF-8 and returns it
/// with a leading UTF-8 byte-order mark (EF BB BF), if any, removed. Line endings are kept
/// as they are (the line splitter accepts LF and CRLF).
/// @throws DataError if the path is not a regular file, cannot be read, or holds invalid
///         UTF-8 (the message gives the path and the byte offset in the file).
std::string read_text_file(const std::filesystem::path& path);

}  // namespace fedlora::client::data
