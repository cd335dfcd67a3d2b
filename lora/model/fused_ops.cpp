#include "lora/model/fused_ops.h"

#include <torch/csrc/autograd/custom_function.h>
#include <ATen/record_function.h>

#include <stdexcept>
#include <string>

#include "lora/model/fused_kernels.h"

namespace fedlora::lora {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::tensor_list;

void check_float(const at::Tensor& t, const char* op, const char* what) {
  if (!t.defined() || t.scalar_type() != at::kFloat || t.device().type() != at::kCPU)
    throw std::invalid_argument(std::string(op) + ": " + what + " must be a float32 CPU tensor");
}

void check_norm_args(const at::Tensor& x, const at::Tensor& w, const char* op) {
  check_float(x, op, "x");
  check_float(w, op, "weight");
  if (x.dim() < 1 || w.dim() != 1 || x.size(-1) != w.size(0))
    throw std::invalid_argument(std::string(op) + ": x [..., d] and weight [d] disagree on d");
}

// rms_norm: saves x (input), weight and the per-row inverse RMS.
struct RmsNormFn : torch::autograd::Function<RmsNormFn> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x, const at::Tensor& w, double eps) {
    RECORD_USER_SCOPE("fedlora::rms_norm_forward");
    const int64_t d = w.size(0);
    auto xc = x.contiguous();
    auto wc = w.contiguous();
    auto y = at::empty_like(xc);
    auto inv = at::empty({xc.numel() / d}, at::kFloat);
    kernels::rms_norm_forward(xc.data_ptr<float>(), wc.data_ptr<float>(), static_cast<float>(eps), inv.size(0), d,
                              y.data_ptr<float>(), inv.data_ptr<float>());
    ctx->save_for_backward({xc, wc, inv});
    ctx->set_materialize_grads(false);
    return y;
  }
  static tensor_list backward(AutogradContext* ctx, tensor_list grads) {
    auto saved = ctx->get_saved_variables();
    const auto &x = saved[0], &w = saved[1], &inv = saved[2];
    if (!grads[0].defined()) return {at::Tensor(), at::Tensor(), at::Tensor()};
    auto g = grads[0].contiguous();
    const int64_t d = w.size(0), rows = inv.size(0);
    at::Tensor dx, dw;
    if (ctx->needs_input_grad(1)) dw = at::zeros({d}, at::kFloat);
    // dx is needed for the kernel's output even when x needs no gradient only if dw is
    // wanted; then it is a throwaway buffer.
    if (ctx->needs_input_grad(0) || dw.defined()) {
      dx = at::empty_like(x);
      kernels::rms_norm_backward(x.data_ptr<float>(), w.data_ptr<float>(), inv.data_ptr<float>(), g.data_ptr<float>(),
                                 nullptr, rows, d, dx.data_ptr<float>(), dw.defined() ? dw.data_ptr<float>() : nullptr);
    }
    if (!ctx->needs_input_grad(0)) dx = at::Tensor();
    return {dx, dw, at::Tensor()};
  }
};

// add_rms_norm: saves the sum (an output), weight and the inverse RMS.
struct AddRmsNormFn : torch::autograd::Function<AddRmsNormFn> {
  static tensor_list forward(AutogradContext* ctx, const at::Tensor& x, const at::Tensor& delta, const at::Tensor& w,
                             double eps) {
    RECORD_USER_SCOPE("fedlora::add_rms_norm_forward");
    const int64_t d = w.size(0);
    auto xc = x.contiguous(), dc = delta.contiguous();
    auto wc = w.contiguous();
    auto sum = at::empty_like(xc), y = at::empty_like(xc);
    auto inv = at::empty({xc.numel() / d}, at::kFloat);
    kernels::rms_norm_forward(xc.data_ptr<float>(), wc.data_ptr<float>(), static_cast<float>(eps), inv.size(0), d,
                              y.data_ptr<float>(), inv.data_ptr<float>(), dc.data_ptr<float>(), sum.data_ptr<float>());
    ctx->save_for_backward({sum, wc, inv});
    ctx->set_materialize_grads(false);
    return {sum, y};
  }
  static tensor_list backward(AutogradContext* ctx, tensor_list grads) {
    auto saved = ctx->get_saved_variables();
    const auto &sum = saved[0], &w = saved[1], &inv = saved[2];
    const auto &g_sum = grads[0], &g_norm = grads[1];
    const int64_t d = w.size(0), rows = inv.size(0);
    at::Tensor dsum, dw;
    if (ctx->needs_input_grad(2) && g_norm.defined()) dw = at::zeros({d}, at::kFloat);
    if (g_norm.defined()) {
      auto g = g_norm.contiguous();
      at::Tensor extra = g_sum.defined() ? g_sum.contiguous() : at::Tensor();
      dsum = at::empty_like(sum);
      kernels::rms_norm_backward(sum.data_ptr<float>(), w.data_ptr<float>(), inv.data_ptr<float>(), g.data_ptr<float>(),
                                 extra.defined() ? extra.data_ptr<float>() : nullptr, rows, d, dsum.data_ptr<float>(),
                                 dw.defined() ? dw.data_ptr<float>() : nullptr);
    } else if (g_sum.defined()) {
      dsum = g_sum;
    }
    // d(sum)/dx = d(sum)/d(delta) = I: both inputs receive the same gradient (read-only).
    at::Tensor dx = ctx->needs_input_grad(0) ? dsum : at::Tensor();
    at::Tensor dd = ctx->needs_input_grad(1) ? dsum : at::Tensor();
    return {dx, dd, dw, at::Tensor()};
  }
};

struct SwigluFn : torch::autograd::Function<SwigluFn> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& gate, const at::Tensor& up) {
    RECORD_USER_SCOPE("fedlora::swiglu_forward");
    auto g = gate.contiguous(), u = up.contiguous();
    auto out = at::empty_like(g);
    kernels::swiglu_forward(g.data_ptr<float>(), u.data_ptr<float>(), g.numel(), out.data_ptr<float>());
    ctx->save_for_backward({g, u});
    return out;
  }
  static tensor_list backward(AutogradContext* ctx, tensor_list grads) {
    auto saved = ctx->get_saved_variables();
    const auto &g = saved[0], &u = saved[1];
    auto d = grads[0].contiguous();
    auto dg = at::empty_like(g), du = at::empty_like(u);
    kernels::swiglu_backward(g.data_ptr<float>(), u.data_ptr<float>(), d.data_ptr<float>(), g.numel(),
                             dg.data_ptr<float>(), du.data_ptr<float>());
    return {ctx->needs_input_grad(0) ? dg : at::Tensor(), ctx->needs_input_grad(1) ? du : at::Tensor()};
  }
};

struct CrossEntropyFn : torch::autograd::Function<CrossEntropyFn> {
  // `weights` is passed by pointer (nullptr = none): LibTorch 1.13 custom functions
  // reject undefined tensor arguments.
  static tensor_list forward(AutogradContext* ctx, const at::Tensor& logits, const at::Tensor& targets,
                             const at::Tensor* weights) {
    RECORD_USER_SCOPE("fedlora::cross_entropy_forward");
    const int64_t m = logits.size(0), v = logits.size(1);
    auto z = logits.contiguous();
    auto tg = targets.contiguous();
    at::Tensor wc = weights != nullptr ? weights->contiguous() : at::Tensor();
    auto nll = at::empty({m}, at::kFloat), lse = at::empty({m}, at::kFloat);
    auto hit = at::empty({m}, at::kBool);  // one byte per element, written as 0/1
    const int64_t bad = kernels::cross_entropy_forward(z.data_ptr<float>(), m, v, tg.data_ptr<int64_t>(),
                                                       wc.defined() ? wc.data_ptr<float>() : nullptr,
                                                       nll.data_ptr<float>(), lse.data_ptr<float>(),
                                                       reinterpret_cast<uint8_t*>(hit.data_ptr<bool>()));
    if (bad >= 0)
      throw std::invalid_argument("cross_entropy: target " + std::to_string(tg.data_ptr<int64_t>()[bad]) + " of row " +
                                  std::to_string(bad) + " is outside [0, " + std::to_string(v) + ")");
    ctx->save_for_backward({z, tg, lse});
    if (wc.defined()) ctx->saved_data["w"] = wc;
    ctx->mark_non_differentiable({hit});
    ctx->set_materialize_grads(false);
    return {nll, hit};
  }
  static tensor_list backward(AutogradContext* ctx, tensor_list grads) {
    if (!grads[0].defined() || !ctx->needs_input_grad(0)) return {at::Tensor(), at::Tensor(), at::Tensor()};
    auto saved = ctx->get_saved_variables();
    const auto &z = saved[0], &tg = saved[1], &lse = saved[2];
    at::Tensor wc;
    if (ctx->saved_data.count("w")) wc = ctx->saved_data["w"].toTensor();
    auto g = grads[0].contiguous();
    auto dz = at::empty_like(z);
    kernels::cross_entropy_backward(z.data_ptr<float>(), z.size(0), z.size(1), tg.data_ptr<int64_t>(),
                                    wc.defined() ? wc.data_ptr<float>() : nullptr, lse.data_ptr<float>(),
                                    g.data_ptr<float>(), dz.data_ptr<float>());
    return {dz, at::Tensor(), at::Tensor()};
  }
};

}  // namespace

at::Tensor rms_norm(const at::Tensor& x, const at::Tensor& weight, double eps) {
  check_norm_args(x, weight, "rms_norm");
  return RmsNormFn::apply(x, weight, eps);
}

AddNorm add_rms_norm(const at::Tensor& x, const at::Tensor& delta, const at::Tensor& weight, double eps) {
  check_norm_args(x, weight, "add_rms_norm");
  check_float(delta, "add_rms_norm", "delta");
  if (x.sizes() != delta.sizes()) throw std::invalid_argument("add_rms_norm: x and delta differ in shape");
  auto out = AddRmsNormFn::apply(x, delta, weight, eps);
  return {out[0], out[1]};
}

at::Tensor swiglu(const at::Tensor& gate, const at::Tensor& up) {
  check_float(gate, "swiglu", "gate");
  check_float(up, "swiglu", "up");
  if (gate.sizes() != up.sizes()) throw std::invalid_argument("swiglu: gate and up differ in shape");
  return SwigluFn::apply(gate, up);
}

CrossEntropy cross_entropy(const at::Tensor& logits, const at::Tensor& targets, const at::Tensor& weights) {
  check_float(logits, "cross_entropy", "logits");
  if (logits.dim() != 2 || logits.size(1) < 1)
    throw std::invalid_argument("cross_entropy: logits must be [M, V] with V >= 1");
  if (!targets.defined() || targets.scalar_type() != at::kLong || targets.dim() != 1 ||
      targets.size(0) != logits.size(0))
    throw std::invalid_argument("cross_entropy: targets must be int64 [M] matching logits [M, V]");
  if (weights.defined()) {
    check_float(weights, "cross_entropy", "weights");
    if (weights.dim() != 1 || weights.size(0) != logits.size(0))
      throw std::invalid_argument("cross_entropy: weights must be float32 [M]");
  }
  auto out = CrossEntropyFn::apply(logits, targets, weights.defined() ? &weights : nullptr);
  return {out[0], out[1]};
}

}  // namespace fedlora::lora
