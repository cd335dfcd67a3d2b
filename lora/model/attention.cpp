#include "lora/model/attention.h"

#include <torch/csrc/autograd/custom_function.h>

#include <cmath>
#include <stdexcept>
#include <string>

#include "lora/model/blas.h"
#include "lora/model/fused_kernels.h"

namespace fedlora::lora {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::tensor_list;

// Expanded rotation tables for positions [0, t): c2[p, 2i] = c2[p, 2i+1] = cos,
// s2[p, 2i] = −sin, s2[p, 2i+1] = +sin (the layout kernels::rope reads).
std::pair<at::Tensor, at::Tensor> expand_tables(const at::Tensor& cos, const at::Tensor& sin, int64_t t) {
  auto c = cos.narrow(0, 0, t).to(at::kFloat);
  auto s = sin.narrow(0, 0, t).to(at::kFloat);
  auto c2 = at::stack({c, c}, -1).reshape({t, -1}).contiguous();
  auto s2 = at::stack({-s, s}, -1).reshape({t, -1}).contiguous();
  return {c2, s2};
}

struct Dims {
  int64_t n, t, h, kv, hd;
  int64_t g() const { return h / kv; }
  int64_t q_ld() const { return h * hd; }   // row stride of q / ctx
  int64_t kv_ld() const { return kv * hd; } // row stride of k / v
};

struct AttentionFn : torch::autograd::Function<AttentionFn> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                            const at::Tensor& c2, const at::Tensor& s2, int64_t n_heads, int64_t n_kv_heads) {
    const Dims d{q.size(0), q.size(1), n_heads, n_kv_heads, q.size(2) / n_heads};
    auto qc = q.contiguous(), kc = k.contiguous(), vc = v.contiguous();
    auto qr = at::empty_like(qc), kr = at::empty_like(kc);
    kernels::rope(qc.data_ptr<float>(), d.n, d.t, d.h, d.hd, c2.data_ptr<float>(), s2.data_ptr<float>(), false,
                  qr.data_ptr<float>());
    kernels::rope(kc.data_ptr<float>(), d.n, d.t, d.kv, d.hd, c2.data_ptr<float>(), s2.data_ptr<float>(), false,
                  kr.data_ptr<float>());
    auto probs = at::empty({d.n, d.h, d.t, d.t}, at::kFloat);
    auto out = at::empty({d.n, d.t, d.h * d.hd}, at::kFloat);
    const float scale = 1.0f / std::sqrt(static_cast<float>(d.hd));
    const float *pq = qr.data_ptr<float>(), *pk = kr.data_ptr<float>(), *pv = vc.data_ptr<float>();
    float *pp = probs.data_ptr<float>(), *po = out.data_ptr<float>();
    for (int64_t b = 0; b < d.n; ++b)
      for (int64_t h = 0; h < d.h; ++h) {
        const int64_t kvh = h / d.g();
        const float* qh = pq + b * d.t * d.q_ld() + h * d.hd;
        const float* kh = pk + b * d.t * d.kv_ld() + kvh * d.hd;
        const float* vh = pv + b * d.t * d.kv_ld() + kvh * d.hd;
        float* p = pp + (b * d.h + h) * d.t * d.t;
        // S = scale · Q_h K_kvᵀ [t, t]; P = causal softmax(S); ctx_h = P V_kv [t, hd].
        sgemm_rowmajor(false, true, d.t, d.t, d.hd, scale, qh, d.q_ld(), kh, d.kv_ld(), 0.0f, p, d.t);
        kernels::causal_softmax_forward(p, d.t, d.t);
        sgemm_rowmajor(false, false, d.t, d.hd, d.t, 1.0f, p, d.t, vh, d.kv_ld(), 0.0f,
                       po + b * d.t * d.q_ld() + h * d.hd, d.q_ld());
      }
    ctx->save_for_backward({qr, kr, vc, probs, c2, s2});
    ctx->saved_data["h"] = n_heads;
    ctx->saved_data["kv"] = n_kv_heads;
    return out;
  }

  static tensor_list backward(AutogradContext* ctx, tensor_list grads) {
    auto saved = ctx->get_saved_variables();
    const auto &qr = saved[0], &kr = saved[1], &v = saved[2], &probs = saved[3], &c2 = saved[4], &s2 = saved[5];
    const Dims d{qr.size(0), qr.size(1), ctx->saved_data["h"].toInt(), ctx->saved_data["kv"].toInt(),
                 qr.size(2) / ctx->saved_data["h"].toInt()};
    auto dout = grads[0].contiguous();
    auto dq = at::empty_like(qr);
    auto dk = at::zeros_like(kr), dv = at::zeros_like(v);
    auto dp_buf = at::empty({d.t, d.t}, at::kFloat);
    const float scale = 1.0f / std::sqrt(static_cast<float>(d.hd));
    const float *pq = qr.data_ptr<float>(), *pk = kr.data_ptr<float>(), *pv = v.data_ptr<float>(),
                *pp = probs.data_ptr<float>(), *pdo = dout.data_ptr<float>();
    float *pdq = dq.data_ptr<float>(), *pdk = dk.data_ptr<float>(), *pdv = dv.data_ptr<float>(),
          *dp = dp_buf.data_ptr<float>();
    for (int64_t b = 0; b < d.n; ++b)
      for (int64_t h = 0; h < d.h; ++h) {
        const int64_t kvh = h / d.g();
        const int64_t qo = b * d.t * d.q_ld() + h * d.hd, ko = b * d.t * d.kv_ld() + kvh * d.hd;
        const float* p = pp + (b * d.h + h) * d.t * d.t;
        // dP = dC Vᵀ; dV += Pᵀ dC; dS = scale · P ⊙ (dP − rowsum(P ⊙ dP));
        // dQ = dS K; dK += dSᵀ Q (the G query heads of a KV head accumulate).
        sgemm_rowmajor(false, true, d.t, d.t, d.hd, 1.0f, pdo + qo, d.q_ld(), pv + ko, d.kv_ld(), 0.0f, dp, d.t);
        sgemm_rowmajor(true, false, d.t, d.hd, d.t, 1.0f, p, d.t, pdo + qo, d.q_ld(), 1.0f, pdv + ko, d.kv_ld());
        kernels::causal_softmax_backward(p, dp, d.t, d.t, scale);
        sgemm_rowmajor(false, false, d.t, d.hd, d.t, 1.0f, dp, d.t, pk + ko, d.kv_ld(), 0.0f, pdq + qo, d.q_ld());
        sgemm_rowmajor(true, false, d.t, d.hd, d.t, 1.0f, dp, d.t, pq + qo, d.q_ld(), 1.0f, pdk + ko, d.kv_ld());
      }
    // RoPE is a rotation per (position, pair): its gradient is the inverse rotation.
    kernels::rope(pdq, d.n, d.t, d.h, d.hd, c2.data_ptr<float>(), s2.data_ptr<float>(), true, pdq);
    kernels::rope(pdk, d.n, d.t, d.kv, d.hd, c2.data_ptr<float>(), s2.data_ptr<float>(), true, pdk);
    return {ctx->needs_input_grad(0) ? dq : at::Tensor(), ctx->needs_input_grad(1) ? dk : at::Tensor(),
            ctx->needs_input_grad(2) ? dv : at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

}  // namespace

at::Tensor rope_causal_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& cos,
                                 const at::Tensor& sin, int64_t n_heads, int64_t n_kv_heads) {
  auto fail = [](const std::string& why) { throw std::invalid_argument("rope_causal_attention: " + why); };
  for (const auto* t : {&q, &k, &v})
    if (!t->defined() || t->scalar_type() != at::kFloat || t->dim() != 3) fail("q, k, v must be float32 [N, T, heads*hd]");
  if (n_heads < 1 || n_kv_heads < 1 || n_heads % n_kv_heads != 0) fail("n_heads must be a multiple of n_kv_heads");
  if (q.size(2) % n_heads != 0) fail("q's last dim is not n_heads * head_dim");
  const int64_t hd = q.size(2) / n_heads;
  if (hd % 2 != 0) fail("head_dim must be even for RoPE");
  const std::vector<int64_t> kv_shape{q.size(0), q.size(1), n_kv_heads * hd};
  if (k.sizes().vec() != kv_shape || v.sizes().vec() != kv_shape) fail("k and v must be [N, T, n_kv_heads*head_dim]");
  if (cos.dim() != 2 || sin.sizes() != cos.sizes() || cos.size(1) != hd / 2 || cos.size(0) < q.size(1))
    fail("cos/sin tables must be [>= T, head_dim/2]");
  auto [c2, s2] = expand_tables(cos, sin, q.size(1));
  return AttentionFn::apply(q, k, v, c2, s2, n_heads, n_kv_heads);
}

}  // namespace fedlora::lora
