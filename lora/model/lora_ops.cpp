#include "lora/model/lora_ops.h"

#include <torch/csrc/autograd/custom_function.h>
#include <ATen/record_function.h>

#include <cstring>
#include <stdexcept>
#include <vector>

#include "lora/model/blas.h"
#include "lora/model/fused_kernels.h"
#include "lora/model/int8_products.h"

namespace fedlora::lora {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::tensor_list;

// W' = W + s · B A, float32 [out, in], in this thread's scratch (valid until the next call
// on the thread). One big GEMM with W' replaces x Wᵀ plus the two thin rank-r products
// (x Aᵀ) Bᵀ, which run far below the BLAS's peak (r = 8 columns); the merge itself is one
// rank-r update of out·in weights per call, independent of the batch.
const float* merged_weight(const QuantizedTensor& w, const at::Tensor& a, const at::Tensor& b, float s) {
  RECORD_USER_SCOPE("fedlora::lora_merge_weight");
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
                            int64_t slot_b, int64_t gemm, bool keep_xa) {
    const int64_t in = w->cols(), out = w->rows();
    auto x2 = x.reshape({-1, in}).contiguous();
    auto ac = a.contiguous(), bc = b.contiguous();
    const int64_t m = x2.size(0);
    auto y = at::empty({m, out}, at::kFloat);
    at::Tensor xa_kept;  // stays undefined unless keep_xa in int8 mode
    RECORD_USER_SCOPE("fedlora::lora_linear_forward");
    if (gemm == static_cast<int64_t>(BaseGemm::int8)) {
      // y = int8(x Wᵀ) + s (x Aᵀ) Bᵀ, the adapter's thin products inside the int8 passes.
      const int64_t r = ac.size(0);
      thread_local std::vector<float> xa_scratch;  // x Aᵀ [m, r] when backward recomputes it
      float* xa = nullptr;
      if (keep_xa) {
        xa_kept = at::empty({m, r}, at::kFloat);
        xa = xa_kept.data_ptr<float>();
      } else {
        xa_scratch.resize(static_cast<size_t>(m * r));
        xa = xa_scratch.data();
      }
      int8_lora_forward_profiled(x2.data_ptr<float>(), m, *w, ac.data_ptr<float>(), bc.data_ptr<float>(), r,
                                 static_cast<float>(scale), y.data_ptr<float>(), xa);
    } else {
      const float* wm = merged_weight(*w, ac, bc, static_cast<float>(scale));
      sgemm_rowmajor(false, true, m, out, in, 1.0f, x2.data_ptr<float>(), in, wm, in, 0.0f, y.data_ptr<float>(), out);
    }
    ctx->save_for_backward({x2, ac, bc, xa_kept});
    ctx->saved_data["w"] = reinterpret_cast<int64_t>(w);
    ctx->saved_data["scale"] = scale;
    ctx->saved_data["sink"] = reinterpret_cast<int64_t>(sink);
    ctx->saved_data["slot_a"] = slot_a;
    ctx->saved_data["slot_b"] = slot_b;
    ctx->saved_data["n"] = x.dim() == 3 ? x.size(0) : int64_t{0};
    ctx->saved_data["gemm"] = gemm;
    auto shape = x.sizes().vec();
    shape.back() = out;
    return y.view(shape);
  }

  static tensor_list backward(AutogradContext* ctx, tensor_list grads) {
    auto saved = ctx->get_saved_variables();
    const auto &x2 = saved[0], &a = saved[1], &b = saved[2], &xa = saved[3];
    const auto* w = reinterpret_cast<const QuantizedTensor*>(ctx->saved_data["w"].toInt());
    const float s = static_cast<float>(ctx->saved_data["scale"].toDouble());
    auto* sink = reinterpret_cast<PerExampleGrads*>(ctx->saved_data["sink"].toInt());
    const int64_t in = w->cols(), out = w->rows(), r = a.size(0), m = x2.size(0);

    auto g2 = grads[0].reshape({-1, out}).contiguous();
    const float *pg = g2.data_ptr<float>(), *px = x2.data_ptr<float>();
    const bool int8 = ctx->saved_data["gemm"].toInt() == static_cast<int64_t>(BaseGemm::int8);
    // int8 path: δB [m, r], for the input gradient and the adapter's, in this thread's
    // scratch (a tensor per projection would fragment the heap between larger blocks).
    thread_local std::vector<float> delta_b_scratch;
    float* delta_b = nullptr;
    if (int8) {
      delta_b_scratch.resize(static_cast<size_t>(m * r));
      delta_b = delta_b_scratch.data();
    }
    // With xAᵀ kept from the forward pass, g_Bᵀ = (xAᵀ)ᵀ δ goes first: δ was just written
    // by the op above and is still in cache; after the int8 product (which streams the
    // weight and its int32 output) it would be read from memory again.
    const bool b_first = int8 && xa.defined() && sink == nullptr;
    at::Tensor dbt_early;
    if (b_first) {
      RECORD_USER_SCOPE("fedlora::lora_linear_backward_adapter");
      dbt_early = at::zeros({r, out}, at::kFloat);
      kernels::lora_grad_accumulate_b(pg, m, out, xa.data_ptr<float>(), r, dbt_early.data_ptr<float>());
    }
    at::Tensor dx;
    if (ctx->needs_input_grad(0)) {  // δ (W + s B A)
      RECORD_USER_SCOPE("fedlora::lora_linear_backward_dx");
      dx = at::empty({m, in}, at::kFloat);
      if (int8) {
        // dx = int8(δ W) + s (δ B) A, with δB written on the way
        int8_lora_backward_profiled(pg, m, *w, a.data_ptr<float>(), b.data_ptr<float>(), r, s, dx.data_ptr<float>(),
                                    delta_b);
      } else {
        const float* wm = merged_weight(*w, a, b, s);
        sgemm_rowmajor(false, false, m, in, out, 1.0f, pg, out, wm, in, 0.0f, dx.data_ptr<float>(), in);
      }
      auto shape = grads[0].sizes().vec();
      shape.back() = in;
      dx = dx.view(shape);
    } else if (int8) {
      sgemm_rowmajor(false, false, m, r, out, 1.0f, pg, out, b.data_ptr<float>(), r, 0.0f, delta_b, r);  // δB alone
    }
    // g_A = s (δB)ᵀ x  [r, in];  g_B = s δᵀ (x Aᵀ)  [out, r]  (kernel accumulates g_Bᵀ)
    RECORD_USER_SCOPE("fedlora::lora_linear_backward_adapter");
    at::Tensor bt;  // [r, out], for the kernels that form δB themselves
    if (sink != nullptr || !int8) bt = b.t().contiguous();
    const float *pa_in = a.data_ptr<float>(), *pbt = bt.defined() ? bt.data_ptr<float>() : nullptr;
    at::Tensor da, db;
    if (sink != nullptr) {
      // Per-example (Opacus-style): the same sums restricted to each example's rows.
      const int64_t n = ctx->saved_data["n"].toInt(), t = n > 0 ? m / n : 0;
      auto pa = at::zeros({n, r, in}, at::kFloat), pbt_ex = at::zeros({n, r, out}, at::kFloat);
      for (int64_t i = 0; i < n; ++i)
        kernels::lora_grad_accumulate(px + i * t * in, pg + i * t * out, t, in, out, pa_in, pbt, r,
                                      pa.data_ptr<float>() + i * r * in, pbt_ex.data_ptr<float>() + i * r * out);
      pa.mul_(s);
      auto pb = pbt_ex.transpose(1, 2).mul(s).contiguous();  // [n, out, r]
      const auto sa = static_cast<size_t>(ctx->saved_data["slot_a"].toInt());
      const auto sb = static_cast<size_t>(ctx->saved_data["slot_b"].toInt());
      if (sink->grads.size() <= std::max(sa, sb)) sink->grads.resize(std::max(sa, sb) + 1);
      da = pa.sum(0);
      db = pb.sum(0);
      sink->grads[sa] = std::move(pa);
      sink->grads[sb] = std::move(pb);
    } else {
      da = at::zeros({r, in}, at::kFloat);
      auto dbt = b_first ? at::Tensor() : at::zeros({r, out}, at::kFloat);
      if (b_first) {
        kernels::lora_grad_accumulate_a(px, m, in, delta_b, r, da.data_ptr<float>());
        dbt = dbt_early;
      } else if (int8) {
        kernels::lora_grad_accumulate_given(px, pg, m, in, out, pa_in, delta_b, r, da.data_ptr<float>(),
                                            dbt.data_ptr<float>());
      } else {
        kernels::lora_grad_accumulate(px, pg, m, in, out, pa_in, pbt, r, da.data_ptr<float>(), dbt.data_ptr<float>());
      }
      da.mul_(s);
      db = dbt.t().mul(s).contiguous();
    }
    return {dx, da, db, at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

}  // namespace

at::Tensor lora_linear(const at::Tensor& x, const QuantizedTensor& w, const at::Tensor& a, const at::Tensor& b,
                       float scale, PerExampleGrads* sink, size_t slot_a, size_t slot_b, BaseGemm gemm, bool keep_xa) {
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
                             static_cast<int64_t>(slot_b), static_cast<int64_t>(gemm),
                             keep_xa && gemm == BaseGemm::int8 && sink == nullptr);
}

}  // namespace fedlora::lora
