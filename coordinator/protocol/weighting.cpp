#include "coordinator/protocol/weighting.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "coordinator/protocol/errors.h"

namespace fedlora::protocol {

std::string_view to_string(Weighting w) noexcept {
  switch (w) {
    case Weighting::kUniform: return "uniform";
    case Weighting::kExampleCount: return "example_count";
    case Weighting::kCappedExampleCount: return "capped_example_count";
  }
  return "unknown";
}

Weighting parse_weighting(std::string_view name) {
  for (Weighting w : {Weighting::kUniform, Weighting::kExampleCount, Weighting::kCappedExampleCount})
    if (to_string(w) == name) return w;
  throw ProtocolError("weighting \"" + std::string(name) +
                      "\" is not one of uniform, example_count, capped_example_count");
}

double client_weight(Weighting weighting, double weight_cap_examples, std::int64_t num_examples) {
  if (num_examples < 0) {
    throw ProtocolError("client weight: num_examples " + std::to_string(num_examples) + " is negative");
  }
  switch (weighting) {
    case Weighting::kUniform: return 1.0;
    case Weighting::kExampleCount: return static_cast<double>(num_examples);
    case Weighting::kCappedExampleCount:
      if (!std::isfinite(weight_cap_examples) || weight_cap_examples <= 0) {
        throw ProtocolError("client weight: weight_cap_examples " + std::to_string(weight_cap_examples) +
                            " must be finite and > 0");
      }
      return std::min(static_cast<double>(num_examples) / weight_cap_examples, 1.0);
  }
  throw ProtocolError("client weight: unknown weighting");
}

}  // namespace fedlora::protocol
