#include "coordinator/config/toml_reader.h"

#include <algorithm>
#include <cstdint>
#include <sstream>

namespace fedlora::config {

namespace {
std::string full_key(std::string_view section, std::string_view key) {
  return std::string(section) + "." + std::string(key);
}
}  // namespace

TomlReader TomlReader::from_file(const std::filesystem::path& path) {
  try {
    return TomlReader(toml::parse_file(path.string()), path.string());
  } catch (const toml::parse_error& e) {
    std::ostringstream m;
    m << path.string() << ":" << e.source().begin.line << ":" << e.source().begin.column << ": " << e.description();
    throw ConfigError(m.str());
  }
}

TomlReader TomlReader::from_string(std::string_view text, std::string source) {
  try {
    return TomlReader(toml::parse(text, source), source);
  } catch (const toml::parse_error& e) {
    std::ostringstream m;
    m << source << ":" << e.source().begin.line << ":" << e.source().begin.column << ": " << e.description();
    throw ConfigError(m.str());
  }
}

void TomlReader::apply_override(std::string_view assignment) {
  const auto eq = assignment.find('=');
  if (eq == std::string_view::npos)
    throw ConfigError("--set '" + std::string(assignment) + "': expected section.key=value");
  const std::string path(assignment.substr(0, eq));
  const std::string value(assignment.substr(eq + 1));
  const auto dot = path.find('.');
  if (dot == std::string::npos || dot == 0 || dot + 1 == path.size() || path.find('.', dot + 1) != std::string::npos)
    throw ConfigError("--set '" + std::string(assignment) + "': the key must be section.key, e.g. federation.rounds=5");
  const std::string section = path.substr(0, dot), key = path.substr(dot + 1);
  toml::table parsed;
  try {
    parsed = toml::parse("v = " + value);
  } catch (const toml::parse_error&) {
    parsed.insert_or_assign("v", value);  // bare word: a string
  }
  auto* sec = root_.get(section);
  if (sec == nullptr) {
    root_.insert_or_assign(section, toml::table{});
    sec = root_.get(section);
  }
  if (!sec->is_table()) throw ConfigError("--set " + path + ": '" + section + "' is not a section");
  sec->as_table()->insert_or_assign(key, *parsed.get("v"));
}

const toml::node* TomlReader::node(std::string_view section, std::string_view key) {
  read_.insert(full_key(section, key));
  const auto* sec = root_.get(section);
  if (sec == nullptr) return nullptr;
  if (!sec->is_table()) throw ConfigError(source_ + ": '" + std::string(section) + "' must be a [section]");
  return sec->as_table()->get(key);
}

bool TomlReader::has(std::string_view section, std::string_view key) const {
  const auto* sec = root_.get(section);
  return sec && sec->is_table() && sec->as_table()->get(key) != nullptr;
}

void TomlReader::type_error(std::string_view section, std::string_view key, const char* expected) const {
  throw ConfigError(source_ + ": " + full_key(section, key) + " must be " + expected);
}

double TomlReader::get_double(std::string_view section, std::string_view key, double def) {
  const auto* n = node(section, key);
  if (!n) return def;
  if (auto v = n->value<double>()) return *v;  // integers convert too
  type_error(section, key, "a number");
}

int64_t TomlReader::get_int(std::string_view section, std::string_view key, int64_t def) {
  const auto* n = node(section, key);
  if (!n) return def;
  if (n->is_integer()) return n->as_integer()->get();
  type_error(section, key, "an integer");
}

bool TomlReader::get_bool(std::string_view section, std::string_view key, bool def) {
  const auto* n = node(section, key);
  if (!n) return def;
  if (n->is_boolean()) return n->as_boolean()->get();
  type_error(section, key, "true or false");
}

std::string TomlReader::get_string(std::string_view section, std::string_view key, const std::string& def) {
  const auto* n = node(section, key);
  if (!n) return def;
  if (n->is_string()) return n->as_string()->get();
  type_error(section, key, "a string");
}

std::vector<std::string> TomlReader::get_string_list(std::string_view section, std::string_view key,
                                                     const std::vector<std::string>& def) {
  const auto* n = node(section, key);
  if (!n) return def;
  if (n->is_string()) {  // --set lora.target_modules=q  (a single name)
    return {n->as_string()->get()};
  }
  if (!n->is_array()) type_error(section, key, "a list of strings");
  std::vector<std::string> out;
  for (const auto& e : *n->as_array()) {
    if (!e.is_string()) type_error(section, key, "a list of strings");
    out.push_back(e.as_string()->get());
  }
  return out;
}

std::vector<double> TomlReader::get_double_list(std::string_view section, std::string_view key,
                                                const std::vector<double>& def) {
  const auto* n = node(section, key);
  if (!n) return def;
  if (!n->is_array()) type_error(section, key, "a list of numbers");
  std::vector<double> out;
  for (const auto& e : *n->as_array()) {
    const auto v = e.value<double>();
    if (!v) type_error(section, key, "a list of numbers");
    out.push_back(*v);
  }
  return out;
}

std::vector<toml::table> TomlReader::get_table_list(std::string_view section, std::string_view key) {
  const auto* n = node(section, key);
  if (!n) return {};
  if (!n->is_array()) type_error(section, key, "a list of tables ([{ ... }, ...])");
  std::vector<toml::table> out;
  for (const auto& e : *n->as_array()) {
    if (!e.is_table()) type_error(section, key, "a list of tables ([{ ... }, ...])");
    out.push_back(*e.as_table());
  }
  return out;
}

void TomlReader::declare(std::string_view section, std::string_view key) { read_.insert(full_key(section, key)); }

namespace {
// Levenshtein distance: the nearest valid key is the likeliest intended one.
std::size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diag = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}
}  // namespace

std::string TomlReader::nearest_key(const std::string& unknown) const {
  std::string best;
  std::size_t best_d = SIZE_MAX;
  const auto dot = unknown.find('.');
  const std::string section = unknown.substr(0, dot);
  const std::string leaf = dot == std::string::npos ? unknown : unknown.substr(dot + 1);
  for (const auto& k : read_) {
    // Compare whole keys, and the key name alone (a right key in the wrong section).
    const std::size_t d = std::min(edit_distance(unknown, k), edit_distance(leaf, k.substr(k.find('.') + 1)) + 1);
    if (d < best_d) best_d = d, best = k;
  }
  if (best_d <= std::max<std::size_t>(2, leaf.size() / 3)) return "did you mean " + best + "?";
  // Nothing close (a synonym such as learning_rate for lr): list the section's keys instead.
  std::string keys;
  for (const auto& k : read_)
    if (k.compare(0, section.size() + 1, section + ".") == 0) keys += (keys.empty() ? "" : ", ") + k.substr(section.size() + 1);
  return keys.empty() ? std::string() : "valid keys of [" + section + "]: " + keys;
}

void TomlReader::reject_unknown_keys() const {
  std::vector<std::string> unknown;
  auto describe = [&](const std::string& key, const toml::node& n, bool section) {
    std::string where = source_;
    const auto line = n.source().begin.line;
    where += line > 0 ? ":" + std::to_string(line) : " (--set)";
    std::string msg = where + ": unknown " + (section ? "section [" + key + "]" : "key " + key);
    std::string hint;
    if (section) {
      std::set<std::string> sections;
      for (const auto& k : read_) sections.insert(k.substr(0, k.find('.')));
      std::size_t best_d = SIZE_MAX;
      for (const auto& s : sections)
        if (const auto d = edit_distance(key, s); d < best_d) best_d = d, hint = "did you mean [" + s + "]?";
    } else {
      hint = nearest_key(key);
    }
    if (!hint.empty()) msg += "; " + hint;
    unknown.push_back(msg);
  };
  std::set<std::string> sections_read;
  for (const auto& k : read_) sections_read.insert(k.substr(0, k.find('.')));
  for (const auto& [sec, node] : root_) {
    if (!node.is_table()) {
      describe(std::string(sec.str()), node, false);
      continue;
    }
    if (!sections_read.count(std::string(sec.str()))) {
      describe(std::string(sec.str()), node, true);
      continue;
    }
    for (const auto& [key, v] : *node.as_table()) {
      const auto k = full_key(sec.str(), key.str());
      if (!read_.count(k)) describe(k, v, false);
    }
  }
  if (unknown.empty()) return;
  std::string list;
  for (const auto& u : unknown) list += (list.empty() ? "" : "\n") + u;
  throw ConfigError(list + "\n(every key is documented in configs/shakespeare.toml)");
}

}  // namespace fedlora::config
