#pragma once
// Where the public corpora live. The repository ships no data: the Shakespeare and
// public-domain corpora sit in a directory named by the FEDLORA_DATA_DIR environment
// variable (layout: shakespeare/tinyshakespeare.txt, public/*.txt). The scripts set it.
#include <filesystem>
#include <string>
#include <string_view>

namespace fedlora::lora {

/// The variable's name, for messages and configs: "FEDLORA_DATA_DIR".
inline constexpr const char* kDataDirVariable = "FEDLORA_DATA_DIR";

/// The directory named by $FEDLORA_DATA_DIR.
/// @throws std::runtime_error naming the variable if it is unset, empty, or not a directory.
std::filesystem::path data_dir();

/// Expands a leading "${FEDLORA_DATA_DIR}" or "$FEDLORA_DATA_DIR" in `path` to data_dir();
/// any other path is returned unchanged (and never touches the environment).
/// Example: "${FEDLORA_DATA_DIR}/shakespeare/tinyshakespeare.txt".
/// @throws std::runtime_error as data_dir() when the path names the variable.
std::filesystem::path expand_data_path(std::string_view path);

}  // namespace fedlora::lora
