#pragma once
// Typed, strict reading of a TOML configuration (simulator runs, the coordinator service):
// every key has a default, a wrong type or an unknown key is an error naming "section.key",
// and `--set section.key=value` overrides are applied on top of the file.
#include <cstdint>
#include <filesystem>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <toml++/toml.h>

namespace fedlora::config {

/// Thrown for an unreadable file, a TOML syntax error, a bad --set, a wrong type, an
/// invalid value or an unknown key. The message names the key and what to do.
struct ConfigError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class TomlReader {
 public:
  /// Parses `path`. Throws ConfigError with the file, line and column of a syntax error.
  static TomlReader from_file(const std::filesystem::path& path);
  /// Parses a TOML document held in memory (`source` names it in errors).
  static TomlReader from_string(std::string_view text, std::string source);

  /// Applies "section.key=value" (value in TOML syntax; a bare word that is not valid TOML is
  /// taken as a string, so `--set model.quantize=q4_0` works without quotes).
  /// Throws ConfigError if the assignment has no '=' or no "section.key" path.
  void apply_override(std::string_view assignment);

  double get_double(std::string_view section, std::string_view key, double def);
  int64_t get_int(std::string_view section, std::string_view key, int64_t def);
  bool get_bool(std::string_view section, std::string_view key, bool def);
  std::string get_string(std::string_view section, std::string_view key, const std::string& def);
  std::vector<std::string> get_string_list(std::string_view section, std::string_view key,
                                           const std::vector<std::string>& def);
  /// A list of numbers (integers convert). Throws ConfigError naming the key otherwise.
  std::vector<double> get_double_list(std::string_view section, std::string_view key, const std::vector<double>& def);
  /// A list of (inline) tables, e.g. `classes = [{ name = "a", share = 0.5 }, ...]`; the
  /// caller checks each table's keys. Empty if absent. Throws ConfigError if it is not one.
  std::vector<toml::table> get_table_list(std::string_view section, std::string_view key);
  /// True if the key is present (file or override); marks nothing as read.
  bool has(std::string_view section, std::string_view key) const;

  /// Marks "section.key" as a valid key without reading it (keys read only when present,
  /// such as server.momentum), so a typo of it is recognised.
  void declare(std::string_view section, std::string_view key);

  /// Throws ConfigError listing every key or section that no getter asked for (typos), each
  /// with its line in the file (or "(--set)") and the nearest valid key by edit distance:
  /// "run.toml:7: unknown key federation.round; did you mean federation.rounds?".
  void reject_unknown_keys() const;
  const std::string& source() const { return source_; }

 private:
  TomlReader(toml::table root, std::string source) : root_(std::move(root)), source_(std::move(source)) {}
  const toml::node* node(std::string_view section, std::string_view key);
  std::string nearest_key(const std::string& unknown) const;
  [[noreturn]] void type_error(std::string_view section, std::string_view key, const char* expected) const;

  toml::table root_;
  std::string source_;
  std::set<std::string> read_;
};

}  // namespace fedlora::config
