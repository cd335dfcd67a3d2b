#include "client/data/text_file.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <system_error>

#include "client/data/data_error.h"
#include "client/data/utf8.h"

namespace fedlora::client::data {

std::string read_text_file(const std::filesystem::path& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    throw DataError(path.string() + ": not a readable regular file" +
                    (ec ? " (" + ec.message() + ")" : std::string()) +
                    "; check the path (relative paths start at the working directory)");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw DataError(path.string() + ": cannot open (" + std::strerror(errno) +
                    "); check the file permissions");
  }
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) throw DataError(path.string() + ": read error; check the file and the disk");
  // Validate before stripping the BOM so that offsets in errors are file offsets.
  validate_utf8(bytes, path.string());
  if (bytes.size() >= 3 && bytes.compare(0, 3, "\xEF\xBB\xBF") == 0) bytes.erase(0, 3);
  return bytes;
}

}  // namespace fedlora::client::data
