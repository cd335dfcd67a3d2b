#include "lora/model/decoder.h"

#include <cmath>
#include <stdexcept>

namespace fedlora::lora {
namespace {

at::Tensor rms_norm(const at::Tensor& x, const at::Tensor& weight, float eps) {
  // x * rsqrt(mean(x^2) + eps) * w  (Zhang & Sennrich 2019)
  auto inv = at::rsqrt(x.pow(2).mean(-1, /*keepdim=*/true) + eps);
  return x * inv * weight;
}

// x: [N, T, H, hd] → rotated, pairs (2i, 2i+1).
at::Tensor apply_rope(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin) {
  const auto n = x.size(0), t = x.size(1), h = x.size(2), hd = x.size(3);
  auto xp = x.reshape({n, t, h, hd / 2, 2});
  auto x0 = xp.select(-1, 0), x1 = xp.select(-1, 1);
  auto c = cos.narrow(0, 0, t).view({1, t, 1, hd / 2});
  auto s = sin.narrow(0, 0, t).view({1, t, 1, hd / 2});
  auto r0 = x0 * c - x1 * s;
  auto r1 = x0 * s + x1 * c;
  return at::stack({r0, r1}, -1).reshape({n, t, h, hd});
}

// Causal additive mask for grouped queries laid out as [G*T, T]: row g*T + i sees keys <= i.
at::Tensor grouped_causal_mask(int64_t groups, int64_t t) {
  auto m = at::full({t, t}, -std::numeric_limits<float>::infinity(), at::kFloat).triu(1);
  return m.repeat({groups, 1});
}

}  // namespace

RopeTables RopeTables::make(const LlamaConfig& cfg, int64_t max_len) {
  const int64_t half = cfg.head_dim() / 2;
  auto i = at::arange(half, at::kDouble);
  auto inv_freq = at::pow(static_cast<double>(cfg.rope_theta), -2.0 * i / static_cast<double>(cfg.head_dim()));
  auto pos = at::arange(max_len, at::kDouble);
  auto ang = at::outer(pos, inv_freq);
  return {ang.cos().to(at::kFloat).contiguous(), ang.sin().to(at::kFloat).contiguous()};
}

at::Tensor decoder_forward(DecoderWeights& w, const at::Tensor& tokens) {
  const LlamaConfig& cfg = w.config();
  if (tokens.dim() != 2 || tokens.scalar_type() != at::kLong)
    throw std::invalid_argument("decoder_forward: tokens must be int64 [N, T]");
  const int64_t n = tokens.size(0), t = tokens.size(1);
  if (t < 1 || t > cfg.context_length)
    throw std::invalid_argument("decoder_forward: sequence length " + std::to_string(t) +
                                " outside [1, context_length=" + std::to_string(cfg.context_length) + "]");
  if (n > 0) {
    const int64_t lo = tokens.min().item<int64_t>(), hi = tokens.max().item<int64_t>();
    if (lo < 0 || hi >= cfg.vocab_size)
      throw std::invalid_argument("decoder_forward: token id out of range [0, " + std::to_string(cfg.vocab_size) + ")");
  }
  const int64_t hd = cfg.head_dim(), h = cfg.n_heads, kvh = cfg.n_kv_heads, g = h / kvh;
  thread_local RopeTables rope;
  thread_local LlamaConfig rope_cfg{};
  thread_local int64_t rope_len = 0;
  if (rope_len < t || rope_cfg.head_dim() != hd || rope_cfg.rope_theta != cfg.rope_theta) {
    rope = RopeTables::make(cfg, cfg.context_length);
    rope_cfg = cfg;
    rope_len = cfg.context_length;
  }
  const auto mask = grouped_causal_mask(g, t);
  const double inv_sqrt_hd = 1.0 / std::sqrt(static_cast<double>(hd));

  at::Tensor x = w.embed(tokens);  // [N, T, D]
  for (int l = 0; l < cfg.n_layers; ++l) {
    auto hn = rms_norm(x, w.attn_norm(l), cfg.norm_eps);
    auto q = w.project(l, TargetModule::q, hn).view({n, t, h, hd});
    auto k = w.project(l, TargetModule::k, hn).view({n, t, kvh, hd});
    auto v = w.project(l, TargetModule::v, hn).view({n, t, kvh, hd});
    q = apply_rope(q, rope.cos, rope.sin);
    k = apply_rope(k, rope.cos, rope.sin);
    // Grouped-query attention without copying K/V: queries of the g heads that share a
    // KV head are stacked along the row axis, [N, KV, G*T, hd].
    auto qg = q.permute({0, 2, 1, 3}).reshape({n, kvh, g * t, hd});
    auto kt = k.permute({0, 2, 3, 1});  // [N, KV, hd, T]
    auto vv = v.permute({0, 2, 1, 3});  // [N, KV, T, hd]
    auto scores = at::matmul(qg, kt).mul_(inv_sqrt_hd).add_(mask);
    auto probs = at::softmax(scores, -1);
    auto ctx = at::matmul(probs, vv)                 // [N, KV, G*T, hd]
                   .view({n, kvh, g, t, hd})
                   .permute({0, 3, 1, 2, 4})         // [N, T, KV, G, hd] = head h = kv*G + g
                   .reshape({n, t, h * hd});
    x = x + w.project(l, TargetModule::o, ctx);
    auto hf = rms_norm(x, w.ffn_norm(l), cfg.norm_eps);
    auto gate = w.project(l, TargetModule::gate, hf);
    auto up = w.project(l, TargetModule::up, hf);
    x = x + w.project(l, TargetModule::down, at::silu(gate) * up);
  }
  return w.lm_head(rms_norm(x, w.output_norm(), cfg.norm_eps));
}

LmLoss lm_loss(DecoderWeights& w, const at::Tensor& tokens, const at::Tensor& mask) {
  const int64_t n = tokens.size(0), t = tokens.size(1);
  if (t < 2) throw std::invalid_argument("lm_loss: need at least 2 tokens per sequence");
  auto logits = decoder_forward(w, tokens.narrow(1, 0, t - 1));  // [N, T-1, V]
  auto targets = tokens.narrow(1, 1, t - 1);
  auto logp = at::log_softmax(logits, -1);
  auto nll = -logp.gather(-1, targets.unsqueeze(-1)).squeeze(-1);  // [N, T-1]
  at::Tensor m;
  if (mask.defined()) {
    m = mask.narrow(1, 1, t - 1).to(at::kFloat);
    nll = nll * m;
  }
  LmLoss out;
  out.per_example = nll.sum(1);
  out.sum = out.per_example.sum();
  {
    at::NoGradGuard ng;
    auto hit = logits.argmax(-1).eq(targets);
    if (m.defined()) {
      hit = hit.logical_and(m.gt(0));
      out.n_targets = m.gt(0).sum().item<int64_t>();
    } else {
      out.n_targets = n * (t - 1);
    }
    out.correct = hit.sum();
  }
  return out;
}

}  // namespace fedlora::lora
