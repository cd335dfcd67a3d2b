#pragma once
// How a device weights its update in the round's sum: the one implementation both the
// coordinator (AggregationPolicy, divisor checks) and the device (its upload) use.
#include <cstdint>
#include <string_view>

namespace fedlora::protocol {

/// The weight a client multiplies its update by before upload (or before SecAgg masking).
enum class Weighting {
  /// w_i = 1: every client counts the same.
  kUniform,
  /// w_i = n_i, the client's number of training examples (McMahan et al. 2017, FedAvg:
  /// "w_{t+1} ← Σ_k n_k/n w^k_{t+1}").
  kExampleCount,
  /// w_i = min(n_i / ŵ, 1) with a cap ŵ (examples): bounded weights, so the sum has bounded
  /// sensitivity (McMahan et al. 2018, "Learning Differentially Private Recurrent Language
  /// Models", ICLR, §2, estimator f̃_f).
  kCappedExampleCount,
};

/// "uniform", "example_count", "capped_example_count".
std::string_view to_string(Weighting w) noexcept;
/// Inverse of to_string; throws ProtocolError naming the accepted values.
Weighting parse_weighting(std::string_view name);

/// w_i for a client with `num_examples` examples under `weighting`: 1, n_i, or
/// min(n_i / weight_cap_examples, 1). Throws ProtocolError if num_examples < 0, or if
/// weighting is kCappedExampleCount and weight_cap_examples is not finite and > 0.
double client_weight(Weighting weighting, double weight_cap_examples, std::int64_t num_examples);

}  // namespace fedlora::protocol
