#pragma once
// The layout of a LoRA adapter as one flat float vector: which tensor sits where.
// Aggregation, DP clipping/noise and secure aggregation all work on that vector, so
// the order is part of the wire format and is fixed here, once.
#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace fedlora::lora {

/// A Llama projection that can carry a LoRA adapter. Order of the enum is the order
/// inside a block in the flat vector.
enum class TargetModule : uint8_t { q, k, v, o, gate, up, down };
inline constexpr TargetModule kAllTargetModules[] = {
    TargetModule::q,    TargetModule::k,  TargetModule::v,   TargetModule::o,
    TargetModule::gate, TargetModule::up, TargetModule::down};

/// Hugging Face name of the projection ("q_proj", ..., "down_proj"), as PEFT's
/// `target_modules` spells it.
std::string_view peft_module_name(TargetModule m);
/// Parses "q" or "q_proj" (and likewise for k, v, o, gate, up, down).
/// Throws std::invalid_argument naming the bad string and the accepted names.
TargetModule parse_target_module(std::string_view name);

/// Thrown when a layout or a vector does not fit what was expected.
struct AdapterError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// One LoRA tensor in the flat vector. `shape` is PyTorch order: lora_A is [r, in],
/// lora_B is [out, r]; stored row-major at [offset, offset + numel).
struct AdapterTensor {
  std::string name;  ///< PEFT key, e.g. base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight
  int layer;
  TargetModule module;
  bool is_b;  ///< false: lora_A, true: lora_B
  int64_t rows, cols;
  int64_t offset;
  int64_t numel() const { return rows * cols; }
};

/// Dimensions of one projection of the base model: y = W x with W [out, in].
struct ProjectionShape {
  int64_t in_features;
  int64_t out_features;
};

/// Flat-vector layout of an adapter (Hu et al. 2021, "LoRA", §4.1: ΔW = B A, A ∈ R^{r×in},
/// B ∈ R^{out×r}). Order: layer 0..L-1; within a layer the target modules in enum order
/// (q, k, v, o, gate, up, down) restricted to the chosen set; per module lora_A then lora_B;
/// each tensor row-major. Immutable once built.
class AdapterLayout {
 public:
  /// `shape_of(module)` gives [out, in] of that projection (same in every layer).
  /// Throws AdapterError if rank <= 0, n_layers <= 0, no target modules or duplicates.
  AdapterLayout(int n_layers, int rank, float alpha, std::vector<TargetModule> targets,
                const std::vector<std::pair<TargetModule, ProjectionShape>>& shapes);

  int n_layers() const { return n_layers_; }
  int rank() const { return rank_; }
  float alpha() const { return alpha_; }
  /// The LoRA scale alpha / r applied to B·A (Hu et al. 2021 §4.1).
  float scale() const { return alpha_ / static_cast<float>(rank_); }
  const std::vector<TargetModule>& targets() const { return targets_; }
  bool targets(TargetModule m) const;
  const std::vector<AdapterTensor>& tensors() const { return tensors_; }
  /// Total number of floats in the flat vector.
  int64_t size() const { return size_; }
  /// Index into tensors() of (layer, module, A/B); throws AdapterError if not targeted.
  size_t index_of(int layer, TargetModule m, bool is_b) const;
  /// Tensor by its PEFT name, or nullptr.
  const AdapterTensor* find(std::string_view name) const;
  /// Throws AdapterError naming both sizes if `flat.size() != size()`.
  void check_size(std::span<const float> flat) const;

  bool operator==(const AdapterLayout& o) const;

 private:
  int n_layers_;
  int rank_;
  float alpha_;
  std::vector<TargetModule> targets_;
  std::vector<AdapterTensor> tensors_;
  int64_t size_ = 0;
};

}  // namespace fedlora::lora
