#include "lora/format/peft_config.h"

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <set>

#include <nlohmann/json.hpp>

#include "lora/format/atomic_file.h"
#include "lora/format/mapped_file.h"

namespace fedlora::lora {
namespace {

using json = nlohmann::json;

const std::set<std::string, std::less<>> kKnownKeys = {
    "r",    "lora_alpha", "target_modules", "lora_dropout", "bias", "task_type", "base_model_name_or_path",
    "fan_in_fan_out", "peft_type",
};

[[noreturn]] void fail(std::string_view source, const std::string& what) {
  throw PeftConfigError("adapter config " + std::string(source) + ": " + what);
}

// PEFT writes plain decimals (0.05); printing a float's exact binary value would give
// 0.05000000074505806. Go through the float's shortest round-trip text.
double float_to_json(float f) {
  char buf[64];
  const auto res = std::to_chars(buf, buf + sizeof(buf), f);
  *res.ptr = '\0';
  return std::strtod(buf, nullptr);
}

bool is_empty_value(const json& v) {
  return v.is_null() || ((v.is_object() || v.is_array() || v.is_string()) && v.empty());
}

void refuse_semantic_keys(const json& j, std::string_view source) {
  // Keys whose non-default values change what the adapter computes; ignoring them would
  // silently load a different model.
  for (const char* key : {"use_dora", "use_rslora", "lora_bias"}) {
    if (auto it = j.find(key); it != j.end() && !it->is_null() && *it != false) {
      fail(source, std::string(key) + " is " + it->dump() + "; fedlora implements plain LoRA only (set it to false)");
    }
  }
  for (const char* key : {"rank_pattern", "alpha_pattern", "modules_to_save", "exclude_modules",
                          "layers_to_transform", "layer_replication"}) {
    if (auto it = j.find(key); it != j.end() && !is_empty_value(*it)) {
      fail(source, std::string(key) + " is set (" + it->dump().substr(0, 120) +
                       "); fedlora supports one r and lora_alpha for all target modules in all layers");
    }
  }
}

template <class T>
T get_number(const json& j, const char* key, T fallback, std::string_view source) {
  auto it = j.find(key);
  if (it == j.end()) return fallback;
  if (!it->is_number()) fail(source, std::string(key) + " must be a number, got " + it->dump());
  return it->get<T>();
}

std::string get_string_or_empty(const json& j, const char* key, std::string fallback, std::string_view source) {
  auto it = j.find(key);
  if (it == j.end()) return fallback;
  if (it->is_null()) return "";
  if (!it->is_string()) fail(source, std::string(key) + " must be a string, got " + it->dump());
  return it->get<std::string>();
}

void validate_in(const PeftLoraConfig& c, std::string_view src) {
  if (c.r <= 0) fail(src, "r must be > 0, got " + std::to_string(c.r));
  if (!(c.lora_alpha > 0.0f) || !std::isfinite(c.lora_alpha)) {
    fail(src, "lora_alpha must be a finite number > 0, got " + std::to_string(c.lora_alpha));
  }
  if (!(c.lora_dropout >= 0.0f && c.lora_dropout < 1.0f)) {
    fail(src, "lora_dropout must be in [0, 1), got " + std::to_string(c.lora_dropout));
  }
  if (c.target_modules.empty()) fail(src, "target_modules is empty; name the modules to adapt, e.g. [\"q_proj\", \"v_proj\"]");
  for (const std::string& m : c.target_modules) {
    if (m.empty()) fail(src, "target_modules contains an empty name");
  }
  if (c.bias != "none" && c.bias != "all" && c.bias != "lora_only") {
    fail(src, "bias must be \"none\", \"all\" or \"lora_only\", got \"" + c.bias + "\"");
  }
  for (const auto& [key, text] : c.extra_json) {
    if (kKnownKeys.count(key) != 0) fail(src, "extra_json must not hold the known key \"" + key + "\"");
    if (!json::accept(text)) fail(src, "extra_json[\"" + key + "\"] is not valid JSON: " + text.substr(0, 80));
  }
}

}  // namespace

void validate(const PeftLoraConfig& config) { validate_in(config, "<in memory>"); }

PeftLoraConfig parse_peft_config(std::string_view json_text, std::string_view source) {
  json j;
  try {
    j = json::parse(json_text.begin(), json_text.end());
  } catch (const json::exception& e) {
    fail(source, std::string("not valid JSON: ") + e.what());
  }
  if (!j.is_object()) fail(source, "top level must be a JSON object");

  const auto peft_type = j.find("peft_type");
  if (peft_type == j.end()) fail(source, "peft_type is missing; expected \"LORA\"");
  if (*peft_type != "LORA") fail(source, "peft_type is " + peft_type->dump() + "; only \"LORA\" adapters are supported");
  refuse_semantic_keys(j, source);

  PeftLoraConfig c;
  try {
    if (auto it = j.find("r"); it != j.end()) {
      if (!it->is_number_integer()) fail(source, "r must be an integer, got " + it->dump());
      const auto r = it->get<int64_t>();
      if (r <= 0 || r > 1'000'000) fail(source, "r must be in 1..1000000, got " + std::to_string(r));
      c.r = static_cast<int>(r);
    }
    c.lora_alpha = static_cast<float>(get_number<double>(j, "lora_alpha", c.lora_alpha, source));
    c.lora_dropout = static_cast<float>(get_number<double>(j, "lora_dropout", c.lora_dropout, source));
    auto tm = j.find("target_modules");
    if (tm == j.end() || tm->is_null()) {
      fail(source, "target_modules is missing; fedlora needs the list of adapted modules");
    }
    if (tm->is_string()) {
      fail(source, "target_modules is the string " + tm->dump() +
                       " (a regex or \"all-linear\"); fedlora needs an explicit list of module names");
    }
    if (!tm->is_array()) fail(source, "target_modules must be a list of strings, got " + tm->dump());
    for (const json& m : *tm) {
      if (!m.is_string()) fail(source, "target_modules holds " + m.dump() + ", expected strings");
      c.target_modules.push_back(m.get<std::string>());
    }
    c.bias = get_string_or_empty(j, "bias", c.bias, source);
    c.task_type = get_string_or_empty(j, "task_type", "", source);
    c.base_model_name_or_path = get_string_or_empty(j, "base_model_name_or_path", "", source);
    if (auto it = j.find("fan_in_fan_out"); it != j.end()) {
      if (!it->is_boolean()) fail(source, "fan_in_fan_out must be true or false, got " + it->dump());
      c.fan_in_fan_out = it->get<bool>();
    }
  } catch (const json::exception& e) {
    fail(source, std::string("unexpected value: ") + e.what());
  }
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (kKnownKeys.count(it.key()) == 0) c.extra_json.emplace(it.key(), it.value().dump());
  }
  validate_in(c, source);
  return c;
}

std::string to_peft_json(const PeftLoraConfig& c) {
  validate(c);
  json j = json::object();  // std::map-backed: keys come out sorted, like sort_keys=True
  for (const auto& [key, text] : c.extra_json) j[key] = json::parse(text);
  j["peft_type"] = "LORA";
  j["r"] = c.r;
  const double alpha = float_to_json(c.lora_alpha);
  if (alpha == std::floor(alpha) && std::fabs(alpha) < 1e15) {
    j["lora_alpha"] = static_cast<int64_t>(alpha);
  } else {
    j["lora_alpha"] = alpha;
  }
  j["lora_dropout"] = float_to_json(c.lora_dropout);
  j["target_modules"] = c.target_modules;
  j["bias"] = c.bias;
  j["task_type"] = c.task_type.empty() ? json(nullptr) : json(c.task_type);
  j["base_model_name_or_path"] = c.base_model_name_or_path.empty() ? json(nullptr) : json(c.base_model_name_or_path);
  j["fan_in_fan_out"] = c.fan_in_fan_out;
  try {
    return j.dump(2);
  } catch (const json::exception& e) {
    throw PeftConfigError(std::string("adapter config: cannot serialize (invalid UTF-8 in a string?): ") + e.what());
  }
}

PeftLoraConfig read_peft_config(const std::filesystem::path& path) {
  const MappedFile file = MappedFile::open(path);
  const auto bytes = file.bytes();
  return parse_peft_config(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()), path.string());
}

void write_peft_config(const std::filesystem::path& path, const PeftLoraConfig& config) {
  const std::string text = to_peft_json(config);
  AtomicFileWriter file(path);
  file.append(std::span<const std::byte>(reinterpret_cast<const std::byte*>(text.data()), text.size()));
  file.commit();
}

}  // namespace fedlora::lora
