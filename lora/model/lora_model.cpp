#include "lora/model/lora_model.h"

#include <cstring>

#include "lora/int8/int8_linear.h"
#include "lora/model/frozen_ops.h"

namespace fedlora::lora {

LoraAdapter::LoraAdapter(AdapterLayout layout) : layout_(std::move(layout)) {
  for (const auto& t : layout_.tensors())
    tensors_.push_back(at::zeros({t.rows, t.cols}, at::kFloat).set_requires_grad(true));
}

void LoraAdapter::load_flat(std::span<const float> flat) {
  layout_.check_size(flat);
  at::NoGradGuard ng;
  for (size_t i = 0; i < tensors_.size(); ++i) {
    const auto& t = layout_.tensors()[i];
    std::memcpy(tensors_[i].data_ptr<float>(), flat.data() + t.offset, sizeof(float) * t.numel());
  }
}

std::vector<float> LoraAdapter::to_flat() const {
  std::vector<float> out(static_cast<size_t>(layout_.size()));
  for (size_t i = 0; i < tensors_.size(); ++i) {
    const auto& t = layout_.tensors()[i];
    std::memcpy(out.data() + t.offset, tensors_[i].data_ptr<float>(), sizeof(float) * t.numel());
  }
  return out;
}

std::vector<float> LoraAdapter::grad_to_flat() const {
  std::vector<float> out(static_cast<size_t>(layout_.size()), 0.0f);
  for (size_t i = 0; i < tensors_.size(); ++i) {
    const auto& g = tensors_[i].grad();
    if (!g.defined()) continue;
    const auto& t = layout_.tensors()[i];
    auto gc = g.contiguous();
    std::memcpy(out.data() + t.offset, gc.data_ptr<float>(), sizeof(float) * t.numel());
  }
  return out;
}

LoraModel::LoraModel(std::shared_ptr<const BaseModel> base, LoraAdapter& adapter)
    : base_(std::move(base)), adapter_(adapter) {
  const auto& l = adapter_.layout();
  const auto expect = make_adapter_layout(base_->config, l.rank(), l.alpha(), l.targets());
  if (!(expect == l)) throw AdapterError("adapter layout does not match the base model's shapes");
  for (const auto& block : base_->blocks)
    for (const auto& w : block.proj) int8_base_bytes_ += int8_weight_bytes(w.rows(), w.cols());
  int8_base_bytes_ += int8_weight_bytes(base_->head().rows(), base_->head().cols());
}

at::Tensor LoraModel::embed(const at::Tensor& tokens) { return frozen_embedding(tokens, base_->embedding()); }

std::vector<at::Tensor> LoraModel::layer_parameters(int layer) {
  std::vector<at::Tensor> v;
  const auto& layout = adapter_.layout();
  for (TargetModule m : kAllTargetModules) {
    if (!layout.targets(m)) continue;
    const size_t ia = layout.index_of(layer, m, false);
    v.push_back(adapter_.tensors()[ia]);
    v.push_back(adapter_.tensors()[ia + 1]);
  }
  return v;
}

at::Tensor LoraModel::project(int layer, TargetModule m, const at::Tensor& x) {
  const QuantizedTensor& w = base_->blocks[layer][m];
  if (gemm_ == BaseGemm::int8) set_int8_weight_cache_bytes(activation_checkpointing() ? 0 : int8_base_bytes_);
  const auto& layout = adapter_.layout();
  if (!layout.targets(m)) return frozen_linear(x, w, gemm_);
  const size_t ia = layout.index_of(layer, m, false), ib = ia + 1;
  return lora_linear(x, w, adapter_.tensors()[ia], adapter_.tensors()[ib], layout.scale(), sink_, ia, ib, gemm_,
                     /*keep_xa=*/!activation_checkpointing());
}

at::Tensor LoraModel::lm_head(const at::Tensor& x) {
  if (gemm_ == BaseGemm::int8) set_int8_weight_cache_bytes(activation_checkpointing() ? 0 : int8_base_bytes_);
  // frozen_ops.h: why δ·W is not int8. On the int8 path it takes bf16 operands.
  const FloatProducts head_dx = gemm_ == BaseGemm::int8 ? FloatProducts::bf16 : FloatProducts::fp32;
  return frozen_linear(x, base_->head(), gemm_, BaseGemm::fp32, head_dx);
}

}  // namespace fedlora::lora
