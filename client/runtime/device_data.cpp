#include "client/runtime/device_data.h"

#include <algorithm>

#include "client/data/blocks.h"
#include "client/data/data_error.h"
#include "client/data/text_file.h"
#include "client/data/user_jsonl.h"

namespace fedlora::client {
namespace fs = std::filesystem;

namespace {

void append_documents(const std::string& text, std::vector<std::string>& out) {
  for (const auto& block : data::split_blocks(text)) {
    std::string doc = data::join_lines(block, 0);
    if (!doc.empty()) out.push_back(std::move(doc));
  }
}

}  // namespace

std::vector<std::string> load_device_texts(const fs::path& path) {
  std::vector<std::string> texts;
  if (fs::is_directory(path)) {
    std::vector<fs::path> files;
    for (const auto& e : fs::directory_iterator(path))
      if (e.is_regular_file() && e.path().filename().string().front() != '.') files.push_back(e.path());
    std::sort(files.begin(), files.end());
    for (const auto& f : files) append_documents(data::read_text_file(f), texts);
  } else if (path.extension() == ".jsonl") {
    data::SplitOptions all;
    all.min_examples = 2;
    const std::string text = data::read_text_file(path);
    const auto corpus = data::parse_user_jsonl(text, all, path.string());
    if (corpus.stats.users_seen != 1)
      throw data::DataError(path.string() + ": a device's JSONL must hold exactly one user, found " +
                            std::to_string(corpus.stats.users_seen));
    if (corpus.population.users().empty())
      throw data::DataError(path.string() + ": the user has fewer than 2 non-empty texts");
    const auto& u = corpus.population.users().front();
    texts.insert(texts.end(), u.train.begin(), u.train.end());
    texts.insert(texts.end(), u.test.begin(), u.test.end());
  } else {
    append_documents(data::read_text_file(path), texts);
  }
  if (texts.empty()) throw data::DataError(path.string() + ": no text to train on");
  return texts;
}

UserExamples device_examples(const std::string& device_id, const std::vector<std::string>& texts,
                             const lora::TextCodec& tokenizer, std::int64_t context_length) {
  data::UserData u;
  u.user_id = device_id;
  u.train = texts;
  return tokenize_user(u, tokenizer, context_length);
}

}  // namespace fedlora::client
