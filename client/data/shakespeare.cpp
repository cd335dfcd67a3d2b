#include "client/data/shakespeare.h"

#include "client/data/blocks.h"
#include "client/data/data_error.h"
#include "client/data/text_file.h"
#include "client/data/utf8.h"
#include "lora/format/data_dir.h"

namespace fedlora::client::data {
namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'; }

// Shortens `line` to at most `max_bytes` for an error message, cutting at a code point start.
std::string excerpt(std::string_view line, std::size_t max_bytes = 60) {
  if (line.size() <= max_bytes) return std::string(line);
  std::size_t cut = max_bytes;
  while (cut > 0 && (static_cast<unsigned char>(line[cut]) & 0xC0u) == 0x80u) --cut;
  return std::string(line.substr(0, cut)) + "...";
}

}  // namespace

std::optional<std::string> parse_speaker_line(std::string_view line) {
  while (!line.empty() && is_space(line.back())) line.remove_suffix(1);
  if (line.empty() || line.back() != ':') return std::nullopt;
  line.remove_suffix(1);
  std::string name;
  bool has_letter = false;
  bool pending_space = false;
  for (const char c : line) {
    if (c == ':') return std::nullopt;
    if (is_space(c)) {
      pending_space = !name.empty();
      continue;
    }
    if (pending_space) name.push_back(' ');
    pending_space = false;
    const auto u = static_cast<unsigned char>(c);
    if ((u >= 'A' && u <= 'Z') || (u >= 'a' && u <= 'z') || u >= 0x80u) has_letter = true;
    name.push_back(c);
  }
  if (!has_letter) return std::nullopt;
  return name;
}

std::vector<Speech> parse_shakespeare_speeches(std::string_view text, std::string_view source) {
  validate_utf8(text, source);
  std::vector<Speech> speeches;
  for (const std::vector<Line>& block : split_blocks(text)) {
    const Line& head = block.front();
    std::optional<std::string> speaker = parse_speaker_line(head.text);
    if (!speaker) {
      throw DataError(std::string(source) + ":" + std::to_string(head.number) +
                      ": a speech must start with a speaker line \"NAME:\" after a blank line, "
                      "got \"" + excerpt(head.text) +
                      "\"; add the speaker line or join this block to the previous speech");
    }
    speeches.push_back(Speech{std::move(*speaker), join_lines(block, 1), head.number});
  }
  return speeches;
}

Corpus load_shakespeare(std::string_view text, const SplitOptions& options,
                        std::string_view source) {
  validate(options);  // fail on bad options before parsing a megabyte
  CorpusBuilder builder(/*users_need_examples=*/false);
  for (Speech& speech : parse_shakespeare_speeches(text, source)) {
    builder.add(speech.speaker, std::move(speech.text), std::string(source) + ":" + std::to_string(speech.line));
  }
  return std::move(builder).finish(options);
}

std::filesystem::path tinyshakespeare_path() { return lora::data_dir() / "shakespeare" / "tinyshakespeare.txt"; }

Corpus load_shakespeare_file(const std::filesystem::path& path, const SplitOptions& options) {
  return load_shakespeare(read_text_file(path), options, path.string());
}

}  // namespace fedlora::client::data
