// The decoder against a slow, loop-by-loop reference written from the Llama equations
// (RMSNorm, interleaved-pair RoPE, grouped-query causal attention, SwiGLU), in double.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <vector>

#include "lora/model/decoder.h"
#include "lora/model/dense_model.h"
#include "tests/lora/model/tiny.h"

namespace fedlora::lora {
namespace {

using Mat = std::vector<std::vector<double>>;  // [rows][cols]

Mat to_mat(const at::Tensor& t) {
  auto c = t.detach().to(at::kDouble).contiguous();
  Mat m(c.size(0), std::vector<double>(c.size(1)));
  for (int64_t i = 0; i < c.size(0); ++i)
    for (int64_t j = 0; j < c.size(1); ++j) m[i][j] = c[i][j].item<double>();
  return m;
}
std::vector<double> to_vec(const at::Tensor& t) {
  auto c = t.detach().to(at::kDouble).contiguous();
  return std::vector<double>(c.data_ptr<double>(), c.data_ptr<double>() + c.numel());
}
// y[o] = Σ_i W[o][i] x[i]
std::vector<double> matvec(const Mat& w, const std::vector<double>& x) {
  std::vector<double> y(w.size(), 0.0);
  for (size_t o = 0; o < w.size(); ++o)
    for (size_t i = 0; i < x.size(); ++i) y[o] += w[o][i] * x[i];
  return y;
}
std::vector<double> rmsnorm(const std::vector<double>& x, const std::vector<double>& g, double eps) {
  double ss = 0;
  for (double v : x) ss += v * v;
  const double inv = 1.0 / std::sqrt(ss / x.size() + eps);
  std::vector<double> y(x.size());
  for (size_t i = 0; i < x.size(); ++i) y[i] = x[i] * inv * g[i];
  return y;
}
// Rotates pairs (2i, 2i+1) of one head vector at position pos.
void rope(double* v, int64_t hd, int64_t pos, double theta) {
  for (int64_t i = 0; i < hd / 2; ++i) {
    const double ang = pos * std::pow(theta, -2.0 * i / hd);
    const double a = v[2 * i], b = v[2 * i + 1];
    v[2 * i] = a * std::cos(ang) - b * std::sin(ang);
    v[2 * i + 1] = a * std::sin(ang) + b * std::cos(ang);
  }
}

TEST(DecoderReference, MatchesLoopImplementation) {
  const LlamaConfig cfg = test::tiny_config();
  DenseModel model(cfg, 7);
  // Non-trivial norm weights so a wrong norm placement shows.
  {
    at::NoGradGuard ng;
    for (int l = 0; l < cfg.n_layers; ++l) {
      model.attn_norm(l).uniform_(0.5, 1.5);
      model.ffn_norm(l).uniform_(0.5, 1.5);
    }
    model.output_norm().uniform_(0.5, 1.5);
  }
  const int64_t T = 9;
  std::vector<int64_t> ids = {3, 17, 42, 0, 63, 5, 5, 12, 30};
  auto tokens = at::tensor(ids, at::kLong).view({1, T});
  auto logits = decoder_forward(model, tokens).squeeze(0);  // [T, V]

  // Reference.
  auto named = model.named_weights();
  auto get = [&](const std::string& n) {
    for (auto& [k, v] : named)
      if (k == n) return v;
    throw std::runtime_error("no " + n);
  };
  const Mat emb = to_mat(get("token_embd.weight"));
  const int64_t D = cfg.dim, H = cfg.n_heads, KV = cfg.n_kv_heads, hd = cfg.head_dim();
  std::vector<std::vector<double>> x(T);
  for (int64_t t = 0; t < T; ++t) x[t] = emb[ids[t]];
  for (int l = 0; l < cfg.n_layers; ++l) {
    const std::string b = "blk." + std::to_string(l) + ".";
    const auto wq = to_mat(get(b + "attn_q.weight")), wk = to_mat(get(b + "attn_k.weight")),
               wv = to_mat(get(b + "attn_v.weight")), wo = to_mat(get(b + "attn_output.weight")),
               wg = to_mat(get(b + "ffn_gate.weight")), wu = to_mat(get(b + "ffn_up.weight")),
               wd = to_mat(get(b + "ffn_down.weight"));
    const auto an = to_vec(get(b + "attn_norm.weight")), fn = to_vec(get(b + "ffn_norm.weight"));
    std::vector<std::vector<double>> q(T), k(T), v(T);
    for (int64_t t = 0; t < T; ++t) {
      auto h = rmsnorm(x[t], an, cfg.norm_eps);
      q[t] = matvec(wq, h);
      k[t] = matvec(wk, h);
      v[t] = matvec(wv, h);
      for (int64_t hh = 0; hh < H; ++hh) rope(&q[t][hh * hd], hd, t, cfg.rope_theta);
      for (int64_t hh = 0; hh < KV; ++hh) rope(&k[t][hh * hd], hd, t, cfg.rope_theta);
    }
    std::vector<std::vector<double>> attn(T, std::vector<double>(D, 0.0));
    for (int64_t hh = 0; hh < H; ++hh) {
      const int64_t kvh = hh / (H / KV);  // heads [kvh*G, (kvh+1)*G) share KV head kvh
      for (int64_t t = 0; t < T; ++t) {
        std::vector<double> s(t + 1);
        double mx = -1e300;
        for (int64_t u = 0; u <= t; ++u) {
          double dot = 0;
          for (int64_t i = 0; i < hd; ++i) dot += q[t][hh * hd + i] * k[u][kvh * hd + i];
          s[u] = dot / std::sqrt(static_cast<double>(hd));
          mx = std::max(mx, s[u]);
        }
        double z = 0;
        for (auto& e : s) z += (e = std::exp(e - mx));
        for (int64_t u = 0; u <= t; ++u)
          for (int64_t i = 0; i < hd; ++i) attn[t][hh * hd + i] += s[u] / z * v[u][kvh * hd + i];
      }
    }
    for (int64_t t = 0; t < T; ++t) {
      auto o = matvec(wo, attn[t]);
      for (int64_t i = 0; i < D; ++i) x[t][i] += o[i];
      auto h = rmsnorm(x[t], fn, cfg.norm_eps);
      auto g = matvec(wg, h), u = matvec(wu, h);
      for (size_t i = 0; i < g.size(); ++i) g[i] = g[i] / (1.0 + std::exp(-g[i])) * u[i];
      auto d = matvec(wd, g);
      for (int64_t i = 0; i < D; ++i) x[t][i] += d[i];
    }
  }
  const auto onorm = to_vec(get("output_norm.weight"));
  double max_err = 0, max_abs = 0;
  for (int64_t t = 0; t < T; ++t) {
    auto y = matvec(emb, rmsnorm(x[t], onorm, cfg.norm_eps));  // tied head
    for (int64_t vv = 0; vv < cfg.vocab_size; ++vv) {
      max_err = std::max(max_err, std::abs(y[vv] - logits[t][vv].item<double>()));
      max_abs = std::max(max_abs, std::abs(y[vv]));
    }
  }
  EXPECT_GT(max_abs, 1e-3);  // the comparison is not between two zeros
  EXPECT_LT(max_err, 1e-5) << "max |logit| " << max_abs;
}

TEST(DecoderReference, RejectsBadTokens) {
  DenseModel model(test::tiny_config(), 1);
  EXPECT_THROW(decoder_forward(model, at::tensor({1, 2, 64}, at::kLong).view({1, 3})), std::invalid_argument);
  EXPECT_THROW(decoder_forward(model, at::tensor({-1}, at::kLong).view({1, 1})), std::invalid_argument);
  EXPECT_THROW(decoder_forward(model, at::zeros({1, 17}, at::kLong)), std::invalid_argument);  // > context
  EXPECT_THROW(decoder_forward(model, at::zeros({4}, at::kLong)), std::invalid_argument);
}

}  // namespace
}  // namespace fedlora::lora
