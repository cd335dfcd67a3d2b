#include "lora/model/attention.h"

#include <torch/csrc/autograd/custom_function.h>
#include <ATen/record_function.h>

#include <cmath>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

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

// Row block [r0, r0 + rows) of a length-t sequence sees keys [0, r0 + rows).
template <class F>
void for_row_blocks(int64_t t, F&& f) {
  for (int64_t r0 = 0; r0 < t; r0 += kAttentionRowBlock) f(r0, std::min(kAttentionRowBlock, t - r0));
}

struct AttentionFn : torch::autograd::Function<AttentionFn> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                            const at::Tensor& c2, const at::Tensor& s2, int64_t n_heads, int64_t n_kv_heads) {
    RECORD_USER_SCOPE("fedlora::attention_forward");
    const Dims d{q.size(0), q.size(1), n_heads, n_kv_heads, q.size(2) / n_heads};
    auto qc = q.contiguous(), kc = k.contiguous(), vc = v.contiguous();
    auto qr = at::empty_like(qc), kr = at::empty_like(kc);
    kernels::rope(qc.data_ptr<float>(), d.n, d.t, d.h, d.hd, c2.data_ptr<float>(), s2.data_ptr<float>(), false,
                  qr.data_ptr<float>());
    kernels::rope(kc.data_ptr<float>(), d.n, d.t, d.kv, d.hd, c2.data_ptr<float>(), s2.data_ptr<float>(), false,
                  kr.data_ptr<float>());
    // probs[n, h, i, j] for j < the key count of i's row block; entries beyond it are
    // never written nor read.
    auto probs = at::empty({d.n, d.h, d.t, d.t}, at::kFloat);
    auto out = at::empty({d.n, d.t, d.h * d.hd}, at::kFloat);
    const float scale = 1.0f / std::sqrt(static_cast<float>(d.hd));
    const float *pq = qr.data_ptr<float>(), *pk = kr.data_ptr<float>(), *pv = vc.data_ptr<float>();
    float *pp = probs.data_ptr<float>(), *po = out.data_ptr<float>();
    {
      RECORD_USER_SCOPE("fedlora::attention_forward_heads");
      for (int64_t b = 0; b < d.n; ++b)
        for (int64_t h = 0; h < d.h; ++h) {
          const int64_t kvh = h / d.g();
          const float* qh = pq + b * d.t * d.q_ld() + h * d.hd;
          const float* kh = pk + b * d.t * d.kv_ld() + kvh * d.hd;
          const float* vh = pv + b * d.t * d.kv_ld() + kvh * d.hd;
          float* p = pp + (b * d.h + h) * d.t * d.t;
          float* oh = po + b * d.t * d.q_ld() + h * d.hd;
          for_row_blocks(d.t, [&](int64_t r0, int64_t rows) {
            const int64_t keys = r0 + rows;
            float* pb = p + r0 * d.t;
            // S = scale · Q_h K_kvᵀ; P = causal softmax(S); ctx_h = P V_kv.
            sgemm_rowmajor(false, true, rows, keys, d.hd, scale, qh + r0 * d.q_ld(), d.q_ld(), kh, d.kv_ld(), 0.0f, pb,
                           d.t);
            kernels::causal_softmax_forward(pb, rows, d.t, r0, keys);
            sgemm_rowmajor(false, false, rows, d.hd, keys, 1.0f, pb, d.t, vh, d.kv_ld(), 0.0f, oh + r0 * d.q_ld(),
                           d.q_ld());
          });
        }
    }
    ctx->save_for_backward({qr, kr, vc, probs, c2, s2});
    ctx->saved_data["h"] = n_heads;
    ctx->saved_data["kv"] = n_kv_heads;
    return out;
  }

  static tensor_list backward(AutogradContext* ctx, tensor_list grads) {
    RECORD_USER_SCOPE("fedlora::attention_backward");
    auto saved = ctx->get_saved_variables();
    const auto &qr = saved[0], &kr = saved[1], &v = saved[2], &probs = saved[3], &c2 = saved[4], &s2 = saved[5];
    const Dims d{qr.size(0), qr.size(1), ctx->saved_data["h"].toInt(), ctx->saved_data["kv"].toInt(),
                 qr.size(2) / ctx->saved_data["h"].toInt()};
    auto dout = grads[0].contiguous();
    auto dq = at::empty_like(qr), dk = at::empty_like(kr), dv = at::empty_like(v);
    auto dp_buf = at::empty({kAttentionRowBlock, d.t}, at::kFloat);
    const float scale = 1.0f / std::sqrt(static_cast<float>(d.hd));
    const float *pq = qr.data_ptr<float>(), *pk = kr.data_ptr<float>(), *pv = v.data_ptr<float>(),
                *pp = probs.data_ptr<float>(), *pdo = dout.data_ptr<float>();
    float *pdq = dq.data_ptr<float>(), *pdk = dk.data_ptr<float>(), *pdv = dv.data_ptr<float>(),
          *dp = dp_buf.data_ptr<float>();
    std::vector<std::pair<int64_t, int64_t>> blocks;  // (first row, rows)
    for_row_blocks(d.t, [&](int64_t r0, int64_t rows) { blocks.emplace_back(r0, rows); });
    {
      RECORD_USER_SCOPE("fedlora::attention_backward_heads");
      for (int64_t b = 0; b < d.n; ++b)
        for (int64_t h = 0; h < d.h; ++h) {
          const int64_t kvh = h / d.g();
          const int64_t qo = b * d.t * d.q_ld() + h * d.hd, ko = b * d.t * d.kv_ld() + kvh * d.hd;
          const float* p = pp + (b * d.h + h) * d.t * d.t;
          // Blocks from the last (which sees every key) to the first, so the first query
          // head of a KV group initialises all of dK, dV (beta 0) and the rest accumulate.
          bool first = (h % d.g() == 0);
          for (auto it = blocks.rbegin(); it != blocks.rend(); ++it) {
            const auto [r0, rows] = *it;
            const int64_t keys = r0 + rows;
            const float* pb = p + r0 * d.t;
            const float* dob = pdo + qo + r0 * d.q_ld();
            const float beta = first ? 0.0f : 1.0f;
            first = false;
            // dP = dC Vᵀ; dV += Pᵀ dC; dS = scale · P ⊙ (dP − rowsum(P ⊙ dP));
            // dQ = dS K; dK += dSᵀ Q.
            sgemm_rowmajor(false, true, rows, keys, d.hd, 1.0f, dob, d.q_ld(), pv + ko, d.kv_ld(), 0.0f, dp, d.t);
            sgemm_rowmajor(true, false, keys, d.hd, rows, 1.0f, pb, d.t, dob, d.q_ld(), beta, pdv + ko, d.kv_ld());
            kernels::causal_softmax_backward(pb, d.t, dp, d.t, rows, r0, keys, scale);
            sgemm_rowmajor(false, false, rows, d.hd, keys, 1.0f, dp, d.t, pk + ko, d.kv_ld(), 0.0f,
                           pdq + qo + r0 * d.q_ld(), d.q_ld());
            sgemm_rowmajor(true, false, keys, d.hd, rows, 1.0f, dp, d.t, pq + qo + r0 * d.q_ld(), d.q_ld(), beta,
                           pdk + ko, d.kv_ld());
          }
        }
    }
    // RoPE is a rotation per (position, pair): its gradient is the inverse rotation.
    kernels::rope(pdq, d.n, d.t, d.h, d.hd, c2.data_ptr<float>(), s2.data_ptr<float>(), true, pdq);
    kernels::rope(pdk, d.n, d.t, d.kv, d.hd, c2.data_ptr<float>(), s2.data_ptr<float>(), true, pdk);
    return {ctx->needs_input_grad(0) ? dq : at::Tensor(), ctx->needs_input_grad(1) ? dk : at::Tensor(),
            ctx->needs_input_grad(2) ? dv : at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

}  // namespace

int64_t attention_scores_computed(int64_t t) {
  int64_t n = 0;
  for_row_blocks(t, [&](int64_t r0, int64_t rows) { n += rows * (r0 + rows); });
  return n;
}

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
