#include "lora/model/lora_ops.h"

#include <torch/csrc/autograd/custom_function.h>

#include <cstring>
#include <stdexcept>
#include <vector>

#include "lora/model/blas.h"

namespace fedlora::lora {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::tensor_list;

// W' = W + s · B A, float32 [out, in], in this thread's scratch (valid until the next call
// on the thread). One big GEMM with W' replaces x Wᵀ plus the two thin rank-r products
// (x Aᵀ) Bᵀ, which run far below the BLAS's peak (r = 8 columns); the merge itself is one
// rank-r update of out·in weights per call, independent of the batch.
const float* merged_weight(const QuantizedTensor& w, const at::Tensor& a, const at::Tensor& b, float s) {
  thread_local std::vector<float> buf;
  const int64_t out = w.rows(), in = w.cols(), r = a.size(0);
  const size_t need = static_cast<size_t>(out * in);
  if (buf.size() < need) buf.resize(need);
  if (w.type() == GgmlType::F32) {
    std::memcpy(buf.data(), w.bytes().data(), need * sizeof(float));
  } else {
    w.dequantize_rows(0, out, buf.data());
  }
  sgemm_rowmajor(false, false, out, in, r, s, b.data_ptr<float>(), r, a.data_ptr<float>(), in, 1.0f, buf.data(), in);
  return buf.data();
}

struct LoraLinearFn : torch::autograd::Function<LoraLinearFn> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x, const at::Tensor& a, const at::Tensor& b,
                            const QuantizedTensor* w, double scale, PerExampleGrads* sink, int64_t slot_a,
                            int64_t slot_b) {
    const int64_t in = w->cols(), out = w->rows();
    auto x2 = x.reshape({-1, in}).contiguous();
    auto ac = a.contiguous(), bc = b.contiguous();
    const int64_t m = x2.size(0);
    auto y = at::empty({m, out}, at::kFloat);
    const float* wm = merged_weight(*w, ac, bc, static_cast<float>(scale));
    sgemm_rowmajor(false, true, m, out, in, 1.0f, x2.data_ptr<float>(), in, wm, in, 0.0f, y.data_ptr<float>(), out);
    ctx->save_for_backward({x2, ac, bc});
    ctx->saved_data["w"] = reinterpret_cast<int64_t>(w);
    ctx->saved_data["scale"] = scale;
    ctx->saved_data["sink"] = reinterpret_cast<int64_t>(sink);
    ctx->saved_data["slot_a"] = slot_a;
    ctx->saved_data["slot_b"] = slot_b;
    ctx->saved_data["n"] = x.dim() == 3 ? x.size(0) : int64_t{0};
    auto shape = x.sizes().vec();
    shape.back() = out;
    return y.view(shape);
  }

  static tensor_list backward(AutogradContext* ctx, tensor_list grads) {
    auto saved = ctx->get_saved_variables();
    const auto &x2 = saved[0], &a = saved[1], &b = saved[2];
    const auto* w = reinterpret_cast<const QuantizedTensor*>(ctx->saved_data["w"].toInt());
    const float s = static_cast<float>(ctx->saved_data["scale"].toDouble());
    auto* sink = reinterpret_cast<PerExampleGrads*>(ctx->saved_data["sink"].toInt());
    const int64_t in = w->cols(), out = w->rows(), r = a.size(0), m = x2.size(0);

    auto g2 = grads[0].reshape({-1, out}).contiguous();
    const float *pg = g2.data_ptr<float>(), *px = x2.data_ptr<float>();
    at::Tensor dx;
    if (ctx->needs_input_grad(0)) {  // δ (W + s B A)
      dx = at::empty({m, in}, at::kFloat);
      const float* wm = merged_weight(*w, a, b, s);
      sgemm_rowmajor(false, false, m, in, out, 1.0f, pg, out, wm, in, 0.0f, dx.data_ptr<float>(), in);
      auto shape = grads[0].sizes().vec();
      shape.back() = in;
      dx = dx.view(shape);
    }
    // g_A = s (δB)ᵀ x  [r, in];  g_B = s δᵀ (x Aᵀ)  [out, r]
    auto gb = at::empty({m, r}, at::kFloat), h = at::empty({m, r}, at::kFloat);
    sgemm_rowmajor(false, false, m, r, out, 1.0f, pg, out, b.data_ptr<float>(), r, 0.0f, gb.data_ptr<float>(), r);
    sgemm_rowmajor(false, true, m, r, in, 1.0f, px, in, a.data_ptr<float>(), in, 0.0f, h.data_ptr<float>(), r);
    const float *pgb = gb.data_ptr<float>(), *ph = h.data_ptr<float>();
    at::Tensor da, db;
    if (sink != nullptr) {
      // Per-example (Opacus-style): the same products restricted to each example's rows.
      const int64_t n = ctx->saved_data["n"].toInt(), t = n > 0 ? m / n : 0;
      auto pa = at::empty({n, r, in}, at::kFloat), pb = at::empty({n, out, r}, at::kFloat);
      for (int64_t i = 0; i < n; ++i) {
        sgemm_rowmajor(true, false, r, in, t, s, pgb + i * t * r, r, px + i * t * in, in, 0.0f,
                       pa.data_ptr<float>() + i * r * in, in);
        sgemm_rowmajor(true, false, out, r, t, s, pg + i * t * out, out, ph + i * t * r, r, 0.0f,
                       pb.data_ptr<float>() + i * out * r, r);
      }
      const auto sa = static_cast<size_t>(ctx->saved_data["slot_a"].toInt());
      const auto sb = static_cast<size_t>(ctx->saved_data["slot_b"].toInt());
      if (sink->grads.size() <= std::max(sa, sb)) sink->grads.resize(std::max(sa, sb) + 1);
      da = pa.sum(0);
      db = pb.sum(0);
      sink->grads[sa] = std::move(pa);
      sink->grads[sb] = std::move(pb);
    } else {
      da = at::empty({r, in}, at::kFloat);
      db = at::empty({out, r}, at::kFloat);
      sgemm_rowmajor(true, false, r, in, m, s, pgb, r, px, in, 0.0f, da.data_ptr<float>(), in);
      sgemm_rowmajor(true, false, out, r, m, s, pg, out, ph, r, 0.0f, db.data_ptr<float>(), r);
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
  if (x.scalar_type() != at::kFloat || a.scalar_type() != at::kFloat || b.scalar_type() != at::kFloat)
    throw std::invalid_argument("lora_linear: x, lora_A and lora_B must be float32");
  if (sink != nullptr && x.dim() != 3)
    throw std::invalid_argument("lora_linear: per-example gradients need x as [N, T, in]");
  return LoraLinearFn::apply(x, a, b, &w, static_cast<double>(scale), sink, static_cast<int64_t>(slot_a),
                             static_cast<int64_t>(slot_b));
}

}  // namespace fedlora::lora
