#include "client/data/user_directory.h"

#include <algorithm>
#include <map>
#include <system_error>
#include <vector>

#include "client/data/blocks.h"
#include "client/data/data_error.h"
#include "client/data/text_file.h"
#include "client/data/utf8.h"

namespace fedlora::client::data {

Corpus load_user_directory(const std::filesystem::path& dir, const SplitOptions& options) {
  validate(options);
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) {
    throw DataError(dir.string() + ": not a directory" +
                    (ec ? " (" + ec.message() + ")" : std::string()) +
                    "; give a directory with one text file per user");
  }
  std::vector<std::filesystem::path> files;
  std::filesystem::directory_iterator it(dir, ec);
  if (ec) throw DataError(dir.string() + ": cannot list directory (" + ec.message() + ")");
  for (const std::filesystem::directory_entry& entry : it) {
    const std::string name = entry.path().filename().string();
    if (name.empty() || name.front() == '.') continue;
    std::error_code type_ec;
    if (!entry.is_regular_file(type_ec)) continue;
    files.push_back(entry.path());
  }
  if (files.empty()) {
    throw DataError(dir.string() + ": no user files found; put one UTF-8 text file per user "
                    "in the directory (hidden files and subdirectories are skipped)");
  }
  std::sort(files.begin(), files.end(), [](const auto& a, const auto& b) {
    return a.filename().string() < b.filename().string();
  });

  std::map<std::string, std::string> stem_owner;  // stem → file name, to report clashes
  CorpusBuilder builder;
  for (const std::filesystem::path& file : files) {
    const std::string stem = file.stem().string();
    const std::string name = file.filename().string();
    validate_utf8(stem, dir.string() + ": file name \"" + name + "\"");  // ids are UTF-8 text
    if (const auto [pos, inserted] = stem_owner.emplace(stem, name); !inserted) {
      throw DataError(dir.string() + ": files \"" + pos->second + "\" and \"" + name +
                      "\" both give user id \"" + stem + "\"; rename or merge one of them");
    }
    const std::string text = read_text_file(file);
    builder.add_user(stem, file.string());  // an empty file is a user without examples: finish() refuses it
    for (const std::vector<Line>& block : split_blocks(text)) builder.add(stem, join_lines(block, 0));
  }
  return std::move(builder).finish(options);
}

}  // namespace fedlora::client::data
