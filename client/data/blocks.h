#pragma once
// Splitting text into lines and into blank-line-separated blocks (speeches, documents).

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace fedlora::client::data {

/// One line of a text, without its line terminator ("\n" or "\r\n").
struct Line {
  std::string_view text;  ///< view into the caller's buffer; keep the buffer alive
  std::size_t number;     ///< 1-based line number in the source
};

/// Splits `text` into lines on '\n'; a '\r' right before the '\n' (or at the very end) is
/// dropped. A final line without a terminator is a line; a trailing terminator does not
/// start an extra empty line. Views point into `text`.
std::vector<Line> split_lines(std::string_view text);

/// True if the line is empty or holds only ASCII whitespace (space, \t, \r, \v, \f).
bool is_blank(std::string_view line) noexcept;

/// Groups the lines of `text` into blocks: maximal runs of non-blank lines. One or more
/// blank lines separate blocks; blank lines at the start or end are ignored. Every returned
/// block has at least one line. This is how both the Shakespeare file and per-user document
/// files mark speech/document boundaries.
std::vector<std::vector<Line>> split_blocks(std::string_view text);

/// Joins the texts of lines[first..] with '\n' (no trailing newline); "" if first >= size.
std::string join_lines(const std::vector<Line>& lines, std::size_t first);

}  // namespace fedlora::client::data
