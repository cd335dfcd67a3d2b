#include "client/data/blocks.h"

namespace fedlora::client::data {

std::vector<Line> split_lines(std::string_view text) {
  std::vector<Line> lines;
  std::size_t start = 0;
  std::size_t number = 1;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    const std::size_t next = end == std::string_view::npos ? text.size() : end + 1;
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(start, end - start);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    lines.push_back(Line{line, number++});
    start = next;
  }
  return lines;
}

bool is_blank(std::string_view line) noexcept {
  for (const char c : line) {
    if (c != ' ' && c != '\t' && c != '\r' && c != '\v' && c != '\f') return false;
  }
  return true;
}

std::vector<std::vector<Line>> split_blocks(std::string_view text) {
  std::vector<std::vector<Line>> blocks;
  std::vector<Line> current;
  for (const Line& line : split_lines(text)) {
    if (is_blank(line.text)) {
      if (!current.empty()) blocks.push_back(std::move(current));
      current.clear();
    } else {
      current.push_back(line);
    }
  }
  if (!current.empty()) blocks.push_back(std::move(current));
  return blocks;
}

std::string join_lines(const std::vector<Line>& lines, std::size_t first) {
  std::string out;
  for (std::size_t i = first; i < lines.size(); ++i) {
    if (i > first) out.push_back('\n');
    out.append(lines[i].text);
  }
  return out;
}

}  // namespace fedlora::client::data
