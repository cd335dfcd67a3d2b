#include "coordinator/config/toml_reader.h"

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

void TomlReader::reject_unknown_keys() const {
  std::vector<std::string> unknown;
  for (const auto& [sec, node] : root_) {
    if (!node.is_table()) {
      unknown.emplace_back(sec.str());
      continue;
    }
    for (const auto& [key, v] : *node.as_table()) {
      (void)v;
      const auto k = full_key(sec.str(), key.str());
      if (!read_.count(k)) unknown.push_back(k);
    }
  }
  if (unknown.empty()) return;
  std::string list;
  for (const auto& u : unknown) list += (list.empty() ? "" : ", ") + u;
  throw ConfigError(source_ + ": unknown key(s) " + list + " (check the spelling against configs/shakespeare.toml)");
}

}  // namespace fedlora::config
