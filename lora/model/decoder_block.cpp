#include "lora/model/decoder_block.h"

#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/autograd/custom_function.h>

#include <vector>

#include "lora/model/attention.h"
#include "lora/model/fused_ops.h"

namespace fedlora::lora {

at::Tensor decoder_block(DecoderWeights& w, int l, const at::Tensor& x, const RopeTables& rope) {
  const LlamaConfig& cfg = w.config();
  auto hn = rms_norm(x, w.attn_norm(l), cfg.norm_eps);
  auto q = w.project(l, TargetModule::q, hn);
  auto k = w.project(l, TargetModule::k, hn);
  auto v = w.project(l, TargetModule::v, hn);
  auto ctx = rope_causal_attention(q, k, v, rope.cos, rope.sin, cfg.n_heads, cfg.n_kv_heads, w.attention_products());
  auto [x_attn, hf] = add_rms_norm(x, w.project(l, TargetModule::o, ctx), w.ffn_norm(l), cfg.norm_eps);
  auto act = swiglu(w.project(l, TargetModule::gate, hf), w.project(l, TargetModule::up, hf));
  return x_attn + w.project(l, TargetModule::down, act);
}

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

struct CheckpointedBlockFn : torch::autograd::Function<CheckpointedBlockFn> {
  // Gradients are returned for: x, each of params, then the three non-tensor arguments.
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x, at::TensorList params, DecoderWeights* w,
                            int64_t layer, const RopeTables* rope) {
    ctx->save_for_backward({x});
    // The autograd node keeps the weights' address (they outlive the step, as documented).
    ctx->saved_data["w"] = reinterpret_cast<int64_t>(w);
    ctx->saved_data["layer"] = layer;
    ctx->saved_data["n_params"] = static_cast<int64_t>(params.size());
    ctx->saved_data["cos"] = rope->cos;
    ctx->saved_data["sin"] = rope->sin;
    // Runs with gradients off (Function::apply), so nothing inside is kept.
    return decoder_block(*w, static_cast<int>(layer), x, *rope);
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_out) {
    auto* w = reinterpret_cast<DecoderWeights*>(ctx->saved_data["w"].toInt());
    const int layer = static_cast<int>(ctx->saved_data["layer"].toInt());
    const auto n_params = static_cast<size_t>(ctx->saved_data["n_params"].toInt());
    const RopeTables rope{ctx->saved_data["cos"].toTensor(), ctx->saved_data["sin"].toTensor()};
    const bool need_x = ctx->needs_input_grad(0);
    const at::Tensor x = ctx->get_saved_variables()[0].detach().requires_grad_(need_x);

    at::AutoGradMode grad_on(true);
    const at::Tensor y = decoder_block(*w, layer, x, rope);
    const std::vector<at::Tensor> params = w->layer_parameters(layer);
    if (params.size() != n_params)
      throw std::logic_error("checkpointed_decoder_block: layer_parameters changed between forward and backward");
    std::vector<at::Tensor> inputs;
    std::vector<size_t> slot;  // position in the returned list of each entry of `inputs`
    if (need_x) {
      inputs.push_back(x);
      slot.push_back(0);
    }
    for (size_t i = 0; i < params.size(); ++i)
      if (params[i].requires_grad() && ctx->needs_input_grad(1 + i)) {
        inputs.push_back(params[i]);
        slot.push_back(1 + i);
      }
    variable_list out(1 + n_params + 3);
    if (inputs.empty()) return out;
    auto grads = torch::autograd::grad({y}, inputs, {grad_out[0]}, /*retain_graph=*/false, /*create_graph=*/false,
                                       /*allow_unused=*/true);
    for (size_t i = 0; i < grads.size(); ++i) out[slot[i]] = std::move(grads[i]);
    return out;
  }
};

}  // namespace

at::Tensor checkpointed_decoder_block(DecoderWeights& w, int layer, const at::Tensor& x, const RopeTables& rope) {
  const std::vector<at::Tensor> params = w.layer_parameters(layer);
  return CheckpointedBlockFn::apply(x, at::TensorList(params), &w, static_cast<int64_t>(layer), &rope);
}

}  // namespace fedlora::lora
