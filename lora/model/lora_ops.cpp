#include "lora/model/lora_ops.h"

#include <torch/csrc/autograd/custom_function.h>

#include <stdexcept>

#include "lora/model/frozen_ops.h"

namespace fedlora::lora {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::tensor_list;

struct LoraLinearFn : torch::autograd::Function<LoraLinearFn> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x, const at::Tensor& a, const at::Tensor& b,
                            const QuantizedTensor* w, double scale, PerExampleGrads* sink, int64_t slot_a,
                            int64_t slot_b) {
    const int64_t in = w->cols(), out = w->rows();
    auto x2 = x.reshape({-1, in});
    auto h = at::mm(x2, a.t());                              // [M, r]
    auto y = at::mm(x2, dequantized_view(*w).t());           // [M, out]
    y.addmm_(h, b.t(), /*beta=*/1, /*alpha=*/scale);
    ctx->save_for_backward({x, a, b, h});
    ctx->saved_data["w"] = reinterpret_cast<int64_t>(w);
    ctx->saved_data["scale"] = scale;
    ctx->saved_data["sink"] = reinterpret_cast<int64_t>(sink);
    ctx->saved_data["slot_a"] = slot_a;
    ctx->saved_data["slot_b"] = slot_b;
    auto shape = x.sizes().vec();
    shape.back() = out;
    return y.view(shape);
  }

  static tensor_list backward(AutogradContext* ctx, tensor_list grads) {
    auto saved = ctx->get_saved_variables();
    const auto &x = saved[0], &a = saved[1], &b = saved[2], &h = saved[3];
    const auto* w = reinterpret_cast<const QuantizedTensor*>(ctx->saved_data["w"].toInt());
    const double s = ctx->saved_data["scale"].toDouble();
    auto* sink = reinterpret_cast<PerExampleGrads*>(ctx->saved_data["sink"].toInt());
    const int64_t in = w->cols(), out = w->rows(), r = a.size(0);

    auto g2 = grads[0].reshape({-1, out});
    auto x2 = x.reshape({-1, in});
    auto gb = at::mm(g2, b);                                 // [M, r] = δ B
    at::Tensor dx;
    if (ctx->needs_input_grad(0)) {
      dx = at::mm(g2, dequantized_view(*w));                 // δ W
      dx.addmm_(gb, a, 1, s);                                //  + s (δ B) A
      dx = dx.view(x.sizes());
    }
    at::Tensor da, db;
    if (sink != nullptr) {
      const int64_t n = x.size(0), t = x.numel() / (n * in);
      // g_A,i = s Σ_t (δB)_{i,t}ᵀ x_{i,t};  g_B,i = s Σ_t δ_{i,t}ᵀ h_{i,t}
      auto pa = at::bmm(gb.view({n, t, r}).transpose(1, 2), x.reshape({n, t, in})).mul_(s);
      auto pb = at::bmm(g2.view({n, t, out}).transpose(1, 2), h.view({n, t, r})).mul_(s);
      const auto sa = static_cast<size_t>(ctx->saved_data["slot_a"].toInt());
      const auto sb = static_cast<size_t>(ctx->saved_data["slot_b"].toInt());
      if (sink->grads.size() <= std::max(sa, sb)) sink->grads.resize(std::max(sa, sb) + 1);
      da = pa.sum(0);
      db = pb.sum(0);
      sink->grads[sa] = std::move(pa);
      sink->grads[sb] = std::move(pb);
    } else {
      da = at::mm(gb.t(), x2).mul_(s);                       // [r, in]
      db = at::mm(g2.t(), h).mul_(s);                        // [out, r]
    }
    return {dx, da, db, at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

}  // namespace

at::Tensor lora_linear(const at::Tensor& x, const QuantizedTensor& w, const at::Tensor& a, const at::Tensor& b,
                       float scale, PerExampleGrads* sink, size_t slot_a, size_t slot_b) {
  const int64_t in = w.cols(), out = w.rows();
  if (x.dim() < 1 || x.size(-1) != in)
    throw std::invalid_argument("lora_linear: input last dim != in_features " + std::to_string(in));
  if (a.dim() != 2 || a.size(1) != in)
    throw std::invalid_argument("lora_linear: lora_A must be [r, " + std::to_string(in) + "]");
  if (b.dim() != 2 || b.size(0) != out || b.size(1) != a.size(0))
    throw std::invalid_argument("lora_linear: lora_B must be [" + std::to_string(out) + ", r]");
  if (sink != nullptr && x.dim() != 3)
    throw std::invalid_argument("lora_linear: per-example gradients need x as [N, T, in]");
  return LoraLinearFn::apply(x, a, b, &w, static_cast<double>(scale), sink, static_cast<int64_t>(slot_a),
                             static_cast<int64_t>(slot_b));
}

}  // namespace fedlora::lora
