#pragma once
// Parsing of the weight-type names the CLI accepts.
#include <CLI/CLI.hpp>
#include <string>

#include "lora/quant/ggml_type.h"

namespace fedlora::lora::cli {

/// "f32", "f16", "q8_0" or "q4_0"; throws CLI::ValidationError naming the bad value otherwise.
inline GgmlType parse_weight_type(const std::string& s) {
  if (s == "f32") return GgmlType::F32;
  if (s == "f16") return GgmlType::F16;
  if (s == "q8_0") return GgmlType::Q8_0;
  if (s == "q4_0") return GgmlType::Q4_0;
  throw CLI::ValidationError("type", "unknown weight type '" + s + "': use f32, f16, q8_0 or q4_0");
}

}  // namespace fedlora::lora::cli
