#include "lora/format/data_dir.h"

#include <cstdlib>
#include <stdexcept>

namespace fedlora::lora {

std::filesystem::path data_dir() {
  const char* v = std::getenv(kDataDirVariable);
  if (v == nullptr || *v == '\0')
    throw std::runtime_error(std::string(kDataDirVariable) +
                             " is not set: point it at the directory holding shakespeare/ and public/ "
                             "(scripts/test.sh and scripts/main.sh find it beside the checkout)");
  std::filesystem::path p(v);
  std::error_code ec;
  if (!std::filesystem::is_directory(p, ec))
    throw std::runtime_error(std::string(kDataDirVariable) + "=" + p.string() + " is not a directory");
  return p;
}

std::filesystem::path expand_data_path(std::string_view path) {
  for (std::string_view prefix : {std::string_view("${FEDLORA_DATA_DIR}"), std::string_view("$FEDLORA_DATA_DIR")}) {
    if (path.substr(0, prefix.size()) != prefix) continue;
    std::string_view rest = path.substr(prefix.size());
    // "$FEDLORA_DATA_DIRX" is another variable's name, not ours.
    if (!rest.empty() && rest.front() != '/') break;
    while (!rest.empty() && rest.front() == '/') rest.remove_prefix(1);
    return rest.empty() ? data_dir() : data_dir() / std::filesystem::path(rest);
  }
  return std::filesystem::path(path);
}

}  // namespace fedlora::lora
