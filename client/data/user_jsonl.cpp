#include "client/data/user_jsonl.h"

#include <nlohmann/json.hpp>

#include <string>

#include "client/data/blocks.h"
#include "client/data/data_error.h"
#include "client/data/text_file.h"
#include "client/data/utf8.h"

namespace fedlora::client::data {
namespace {

[[noreturn]] void bad_line(std::string_view source, std::size_t line, const std::string& why) {
  throw DataError(std::string(source) + ":" + std::to_string(line) + ": " + why +
                  "; each line must be a JSON object like {\"user\": \"alice\", \"text\": \"...\"}");
}

const std::string& string_field(const nlohmann::json& record, const char* key,
                                std::string_view source, std::size_t line) {
  const auto it = record.find(key);
  if (it == record.end()) bad_line(source, line, std::string("missing key \"") + key + "\"");
  if (!it->is_string()) {
    bad_line(source, line, std::string("key \"") + key + "\" must be a string, got " +
                               it->type_name());
  }
  return it->get_ref<const std::string&>();
}

}  // namespace

Corpus parse_user_jsonl(std::string_view text, const SplitOptions& options,
                        std::string_view source) {
  validate(options);
  validate_utf8(text, source);
  CorpusBuilder builder;
  for (const Line& line : split_lines(text)) {
    if (is_blank(line.text)) continue;
    nlohmann::json record;
    try {
      record = nlohmann::json::parse(line.text);
    } catch (const nlohmann::json::exception& e) {  // parse_error, and out_of_range for a number overflow
      bad_line(source, line.number, std::string("invalid JSON (") + e.what() + ")");
    }
    if (!record.is_object()) {
      bad_line(source, line.number, std::string("expected a JSON object, got ") + record.type_name());
    }
    const std::string& user = string_field(record, "user", source, line.number);
    if (user.empty()) bad_line(source, line.number, "\"user\" is empty");
    builder.add(user, string_field(record, "text", source, line.number),
                std::string(source) + ":" + std::to_string(line.number));
  }
  return std::move(builder).finish(options);
}

Corpus load_user_jsonl(const std::filesystem::path& path, const SplitOptions& options) {
  return parse_user_jsonl(read_text_file(path), options, path.string());
}

}  // namespace fedlora::client::data
