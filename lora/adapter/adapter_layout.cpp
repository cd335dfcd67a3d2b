#include "lora/adapter/adapter_layout.h"

#include <algorithm>

namespace fedlora::lora {

std::string_view peft_module_name(TargetModule m) {
  switch (m) {
    case TargetModule::q: return "q_proj";
    case TargetModule::k: return "k_proj";
    case TargetModule::v: return "v_proj";
    case TargetModule::o: return "o_proj";
    case TargetModule::gate: return "gate_proj";
    case TargetModule::up: return "up_proj";
    case TargetModule::down: return "down_proj";
  }
  return "?";
}

static std::string_view peft_parent(TargetModule m) {
  switch (m) {
    case TargetModule::gate:
    case TargetModule::up:
    case TargetModule::down: return "mlp";
    default: return "self_attn";
  }
}

TargetModule parse_target_module(std::string_view name) {
  for (TargetModule m : kAllTargetModules) {
    std::string_view full = peft_module_name(m);
    if (name == full || name == full.substr(0, full.size() - 5)) return m;
  }
  throw std::invalid_argument("unknown LoRA target module '" + std::string(name) +
                              "': use q, k, v, o, gate, up, down (or q_proj ... down_proj)");
}

AdapterLayout::AdapterLayout(int n_layers, int rank, float alpha, std::vector<TargetModule> targets,
                             const std::vector<std::pair<TargetModule, ProjectionShape>>& shapes)
    : n_layers_(n_layers), rank_(rank), alpha_(alpha) {
  if (n_layers <= 0) throw AdapterError("adapter layout: n_layers must be > 0");
  if (rank <= 0) throw AdapterError("adapter layout: LoRA rank r must be > 0, got " + std::to_string(rank));
  if (!(alpha > 0)) throw AdapterError("adapter layout: LoRA alpha must be > 0");
  if (targets.empty()) throw AdapterError("adapter layout: no target modules");
  std::sort(targets.begin(), targets.end());
  if (std::adjacent_find(targets.begin(), targets.end()) != targets.end())
    throw AdapterError("adapter layout: duplicate target module");
  targets_ = std::move(targets);

  for (int layer = 0; layer < n_layers; ++layer) {
    for (TargetModule m : targets_) {
      auto it = std::find_if(shapes.begin(), shapes.end(), [&](auto& p) { return p.first == m; });
      if (it == shapes.end())
        throw AdapterError("adapter layout: no projection shape for " + std::string(peft_module_name(m)));
      const ProjectionShape ps = it->second;
      const std::string prefix = "base_model.model.model.layers." + std::to_string(layer) + "." +
                                 std::string(peft_parent(m)) + "." + std::string(peft_module_name(m));
      AdapterTensor a{prefix + ".lora_A.weight", layer, m, false, rank, ps.in_features, size_};
      size_ += a.numel();
      AdapterTensor b{prefix + ".lora_B.weight", layer, m, true, ps.out_features, rank, size_};
      size_ += b.numel();
      tensors_.push_back(std::move(a));
      tensors_.push_back(std::move(b));
    }
  }
}

bool AdapterLayout::targets(TargetModule m) const {
  return std::find(targets_.begin(), targets_.end(), m) != targets_.end();
}

size_t AdapterLayout::index_of(int layer, TargetModule m, bool is_b) const {
  if (layer < 0 || layer >= n_layers_ || !targets(m))
    throw AdapterError("adapter layout: layer " + std::to_string(layer) + " module " +
                       std::string(peft_module_name(m)) + " is not part of this adapter");
  const size_t pos = static_cast<size_t>(std::find(targets_.begin(), targets_.end(), m) - targets_.begin());
  return (static_cast<size_t>(layer) * targets_.size() + pos) * 2 + (is_b ? 1 : 0);
}

const AdapterTensor* AdapterLayout::find(std::string_view name) const {
  for (const auto& t : tensors_)
    if (t.name == name) return &t;
  return nullptr;
}

void AdapterLayout::check_size(std::span<const float> flat) const {
  if (static_cast<int64_t>(flat.size()) != size_)
    throw AdapterError("adapter vector has " + std::to_string(flat.size()) + " floats, layout expects " +
                       std::to_string(size_));
}

bool AdapterLayout::operator==(const AdapterLayout& o) const {
  if (n_layers_ != o.n_layers_ || rank_ != o.rank_ || alpha_ != o.alpha_ || targets_ != o.targets_ ||
      size_ != o.size_ || tensors_.size() != o.tensors_.size())
    return false;
  for (size_t i = 0; i < tensors_.size(); ++i)
    if (tensors_[i].name != o.tensors_[i].name || tensors_[i].rows != o.tensors_[i].rows ||
        tensors_[i].cols != o.tensors_[i].cols)
      return false;
  return true;
}

}  // namespace fedlora::lora
