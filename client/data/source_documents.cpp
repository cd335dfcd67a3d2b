#include "client/data/source_documents.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "client/data/blocks.h"
#include "client/data/data_error.h"
#include "client/data/text_file.h"

namespace fedlora::client::data {

std::size_t SourceDocuments::bytes() const {
  std::size_t n = 0;
  for (const auto& t : texts) n += t.size();
  return n;
}

SourceDocuments load_source_documents(const std::filesystem::path& path) {
  namespace fs = std::filesystem;
  SourceDocuments docs;
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    std::vector<fs::path> files;
    for (const auto& e : fs::directory_iterator(path))
      if (e.is_regular_file() && e.path().extension() == ".txt") files.push_back(e.path());
    std::sort(files.begin(), files.end());
    if (files.empty()) throw DataError(path.string() + ": no .txt files in this directory; data.format = \"partition\" "
                                       "reads every *.txt file of data.path as one source document");
    for (const auto& f : files) {
      docs.names.push_back(f.filename().string());
      docs.texts.push_back(read_text_file(f));
    }
  } else {
    const std::string text = read_text_file(path);  // throws naming the path if it is missing
    for (const Line& line : split_lines(text)) {
      if (is_blank(line.text)) continue;
      const std::string where = path.string() + ":" + std::to_string(line.number);
      nlohmann::json record;
      try {
        record = nlohmann::json::parse(line.text);
      } catch (const nlohmann::json::exception& e) {
        throw DataError(where + ": invalid JSON (" + e.what() + "); each line must be an object {\"text\": \"...\"}");
      }
      if (!record.is_object() || !record.contains("text") || !record["text"].is_string())
        throw DataError(where + ": expected an object with a string \"text\"");
      docs.names.push_back(where);
      docs.texts.push_back(record["text"].get<std::string>());
    }
  }
  if (docs.bytes() == 0) throw DataError(path.string() + ": every source document is empty");
  return docs;
}

}  // namespace fedlora::client::data
