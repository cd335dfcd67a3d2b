#include "lora/model/attention.h"

#include <torch/csrc/autograd/custom_function.h>
#include <ATen/record_function.h>

#include <cmath>
#include <cstring>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "lora/model/bf16_gemm.h"
#include "lora/model/blas.h"
#include "lora/model/fused_kernels.h"

namespace fedlora::lora {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::tensor_list;

// Expanded rotation tables for positions [0, t): c2[p, 2i] = c2[p, 2i+1] = cos,
// s2[p, 2i] = −sin, s2[p, 2i+1] = +sin (the layout kernels::rope_regroup reads).
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
  int64_t q_ld() const { return h * hd; }  // row stride of q / ctx in the natural layout
};

// Row block [r0, r0 + rows) of a length-t sequence sees keys [0, r0 + rows).
template <class F>
void for_row_blocks(int64_t t, F&& f) {
  for (int64_t r0 = 0; r0 < t; r0 += kAttentionRowBlock) f(r0, std::min(kAttentionRowBlock, t - r0));
}

// Layout inside the op: per (sequence b, KV head kv) the G query heads sharing it are
// stacked position-major, Q_s = [T·G, hd] with row (i, g) (kernels::rope_regroup's
// "grouped" layout), K and V are [T, hd]. One GEMM then serves all G heads of a KV head,
// and the sum over those heads in dK, dV is the GEMM's own reduction.
struct AttentionFn : torch::autograd::Function<AttentionFn> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                            const at::Tensor& c2, const at::Tensor& s2, int64_t n_heads, int64_t n_kv_heads,
                            int64_t products) {
    const auto prec = static_cast<FloatProducts>(products);
    RECORD_USER_SCOPE("fedlora::attention_forward");
    const Dims d{q.size(0), q.size(1), n_heads, n_kv_heads, q.size(2) / n_heads};
    const int64_t g = d.g(), gt = d.t * g;  // stacked rows per (b, kv)
    auto qc = q.contiguous(), kc = k.contiguous(), vc = v.contiguous();
    auto qs = at::empty({d.n, d.kv, gt, d.hd}, at::kFloat);
    auto ks = at::empty({d.n, d.kv, d.t, d.hd}, at::kFloat), vs = at::empty({d.n, d.kv, d.t, d.hd}, at::kFloat);
    const float *pc2 = c2.data_ptr<float>(), *ps2 = s2.data_ptr<float>();
    kernels::rope_regroup(qc.data_ptr<float>(), d.n, d.t, d.h, g, d.hd, pc2, ps2, false, true, qs.data_ptr<float>());
    kernels::rope_regroup(kc.data_ptr<float>(), d.n, d.t, d.kv, 1, d.hd, pc2, ps2, false, true, ks.data_ptr<float>());
    kernels::rope_regroup(vc.data_ptr<float>(), d.n, d.t, d.kv, 1, d.hd, nullptr, nullptr, false, true,
                          vs.data_ptr<float>());
    // probs[b, kv, (i, g), j] for j < the key count of i's row block; entries beyond it
    // are never written nor read.
    auto probs = at::empty({d.n, d.kv, gt, d.t}, at::kFloat);
    auto out = at::empty({d.n, d.t, d.h * d.hd}, at::kFloat);
    auto ctx_buf = at::empty({kAttentionRowBlock * g, d.hd}, at::kFloat);
    const float scale = 1.0f / std::sqrt(static_cast<float>(d.hd));
    const float *pq = qs.data_ptr<float>(), *pk = ks.data_ptr<float>(), *pv = vs.data_ptr<float>();
    float *pp = probs.data_ptr<float>(), *po = out.data_ptr<float>(), *pc = ctx_buf.data_ptr<float>();
    {
      RECORD_USER_SCOPE("fedlora::attention_forward_heads");
      for (int64_t b = 0; b < d.n; ++b)
        for (int64_t kv = 0; kv < d.kv; ++kv) {
          const int64_t bk = b * d.kv + kv;
          const float *qh = pq + bk * gt * d.hd, *kh = pk + bk * d.t * d.hd, *vh = pv + bk * d.t * d.hd;
          float* p = pp + bk * gt * d.t;
          for_row_blocks(d.t, [&](int64_t r0, int64_t rows) {
            const int64_t keys = r0 + rows, m = rows * g;
            float* pb = p + r0 * g * d.t;
            // S = scale · Q_s K_kvᵀ; P = causal softmax(S); C_s = P V_kv.
            float_gemm_rowmajor(prec, false, true, m, keys, d.hd, scale, qh + r0 * g * d.hd, d.hd, kh, d.hd, 0.0f, pb, d.t);
            kernels::causal_softmax_forward(pb, m, d.t, r0, keys, g);
            float_gemm_rowmajor(prec, false, false, m, d.hd, keys, 1.0f, pb, d.t, vh, d.hd, 0.0f, pc, d.hd);
            // Row (i, g) of C_s is head kv·G + g of position r0 + i: G·hd contiguous floats.
            for (int64_t i = 0; i < rows; ++i)
              std::memcpy(po + (b * d.t + r0 + i) * d.q_ld() + kv * g * d.hd, pc + i * g * d.hd,
                          sizeof(float) * static_cast<size_t>(g * d.hd));
          });
        }
    }
    ctx->save_for_backward({qs, ks, vs, probs, c2, s2});
    ctx->saved_data["h"] = n_heads;
    ctx->saved_data["kv"] = n_kv_heads;
    ctx->saved_data["products"] = products;
    return out;
  }

  static tensor_list backward(AutogradContext* ctx, tensor_list grads) {
    RECORD_USER_SCOPE("fedlora::attention_backward");
    auto saved = ctx->get_saved_variables();
    const auto &qs = saved[0], &ks = saved[1], &vs = saved[2], &probs = saved[3], &c2 = saved[4], &s2 = saved[5];
    const int64_t n_heads = ctx->saved_data["h"].toInt();
    const auto prec = static_cast<FloatProducts>(ctx->saved_data["products"].toInt());
    const Dims d{qs.size(0), ks.size(2), n_heads, ctx->saved_data["kv"].toInt(), qs.size(3)};
    const int64_t g = d.g(), gt = d.t * g;
    auto dout = grads[0].contiguous();
    auto dqs = at::empty_like(qs), dks = at::empty_like(ks), dvs = at::empty_like(vs);
    auto dp_buf = at::empty({kAttentionRowBlock * g, d.t}, at::kFloat);
    auto dc_buf = at::empty({kAttentionRowBlock * g, d.hd}, at::kFloat);
    const float scale = 1.0f / std::sqrt(static_cast<float>(d.hd));
    const float *pq = qs.data_ptr<float>(), *pk = ks.data_ptr<float>(), *pv = vs.data_ptr<float>(),
                *pp = probs.data_ptr<float>(), *pdo = dout.data_ptr<float>();
    float *pdq = dqs.data_ptr<float>(), *pdk = dks.data_ptr<float>(), *pdv = dvs.data_ptr<float>(),
          *dp = dp_buf.data_ptr<float>(), *dc = dc_buf.data_ptr<float>();
    std::vector<std::pair<int64_t, int64_t>> blocks;  // (first row, rows)
    for_row_blocks(d.t, [&](int64_t r0, int64_t rows) { blocks.emplace_back(r0, rows); });
    {
      RECORD_USER_SCOPE("fedlora::attention_backward_heads");
      for (int64_t b = 0; b < d.n; ++b)
        for (int64_t kv = 0; kv < d.kv; ++kv) {
          const int64_t bk = b * d.kv + kv;
          const float *qh = pq + bk * gt * d.hd, *kh = pk + bk * d.t * d.hd, *vh = pv + bk * d.t * d.hd;
          const float* p = pp + bk * gt * d.t;
          float *dqh = pdq + bk * gt * d.hd, *dkh = pdk + bk * d.t * d.hd, *dvh = pdv + bk * d.t * d.hd;
          // Last block first: it sees every key, so it initialises dK, dV (beta 0).
          bool first = true;
          for (auto it = blocks.rbegin(); it != blocks.rend(); ++it) {
            const auto [r0, rows] = *it;
            const int64_t keys = r0 + rows, m = rows * g;
            const float* pb = p + r0 * g * d.t;
            const float beta = first ? 0.0f : 1.0f;
            first = false;
            for (int64_t i = 0; i < rows; ++i)  // dC_s rows (i, g) from the natural layout
              std::memcpy(dc + i * g * d.hd, pdo + (b * d.t + r0 + i) * d.q_ld() + kv * g * d.hd,
                          sizeof(float) * static_cast<size_t>(g * d.hd));
            // dP = dC Vᵀ; dV += Pᵀ dC; dS = scale · P ⊙ (dP − rowsum(P ⊙ dP));
            // dQ = dS K; dK += dSᵀ Q.
            float_gemm_rowmajor(prec, false, true, m, keys, d.hd, 1.0f, dc, d.hd, vh, d.hd, 0.0f, dp, d.t);
            float_gemm_rowmajor(prec, true, false, keys, d.hd, m, 1.0f, pb, d.t, dc, d.hd, beta, dvh, d.hd);
            kernels::causal_softmax_backward(pb, d.t, dp, d.t, m, r0, keys, scale, g);
            float_gemm_rowmajor(prec, false, false, m, d.hd, keys, 1.0f, dp, d.t, kh, d.hd, 0.0f, dqh + r0 * g * d.hd, d.hd);
            float_gemm_rowmajor(prec, true, false, keys, d.hd, m, 1.0f, dp, d.t, qh + r0 * g * d.hd, d.hd, beta, dkh, d.hd);
          }
        }
    }
    // Back to the projections' layout; RoPE's gradient is the inverse rotation.
    auto dq = at::empty({d.n, d.t, d.h * d.hd}, at::kFloat);
    auto dk = at::empty({d.n, d.t, d.kv * d.hd}, at::kFloat), dv = at::empty({d.n, d.t, d.kv * d.hd}, at::kFloat);
    const float *pc2 = c2.data_ptr<float>(), *ps2 = s2.data_ptr<float>();
    kernels::rope_regroup(pdq, d.n, d.t, d.h, g, d.hd, pc2, ps2, true, false, dq.data_ptr<float>());
    kernels::rope_regroup(pdk, d.n, d.t, d.kv, 1, d.hd, pc2, ps2, true, false, dk.data_ptr<float>());
    kernels::rope_regroup(pdv, d.n, d.t, d.kv, 1, d.hd, nullptr, nullptr, false, false, dv.data_ptr<float>());
    return {ctx->needs_input_grad(0) ? dq : at::Tensor(), ctx->needs_input_grad(1) ? dk : at::Tensor(),
            ctx->needs_input_grad(2) ? dv : at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor(),
            at::Tensor()};
  }
};

}  // namespace

int64_t attention_scores_computed(int64_t t) {
  int64_t n = 0;
  for_row_blocks(t, [&](int64_t r0, int64_t rows) { n += rows * (r0 + rows); });
  return n;
}

at::Tensor rope_causal_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& cos,
                                 const at::Tensor& sin, int64_t n_heads, int64_t n_kv_heads, FloatProducts products) {
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
  return AttentionFn::apply(q, k, v, c2, s2, n_heads, n_kv_heads, static_cast<int64_t>(products));
}

}  // namespace fedlora::lora
