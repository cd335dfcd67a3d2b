#pragma once
// A slow reference for the decoder: the Llama equations as a plain composition of ATen ops
// in double (Touvron et al. 2023; RMSNorm, interleaved-pair RoPE as llama.cpp stores q/k,
// GQA, SwiGLU), differentiated by LibTorch's autograd. Tests compare the fused float32
// decoder against it.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <string>

#include "lora/model/decoder.h"
#include "lora/model/gguf_names.h"

namespace fedlora::lora::test {

/// max |got − want| / max |want|, both taken to double.
inline double rel_err(const at::Tensor& got, const at::Tensor& want) {
  auto g = got.detach().to(at::kDouble), w = want.detach().to(at::kDouble);
  EXPECT_EQ(g.sizes(), w.sizes());
  return (g - w).abs().max().item<double>() / std::max(w.abs().max().item<double>(), 1e-30);
}

inline at::Tensor rms(const at::Tensor& x, const at::Tensor& w, double eps) {
  return x * at::rsqrt(x.pow(2).mean(-1, true) + eps) * w;
}

// x: [N, T, H, hd], adjacent pairs rotated by p·θ_i.
inline at::Tensor rope(const at::Tensor& x, const RopeTables& tab) {
  const auto n = x.size(0), t = x.size(1), h = x.size(2), hd = x.size(3);
  auto xp = x.reshape({n, t, h, hd / 2, 2});
  auto x0 = xp.select(-1, 0), x1 = xp.select(-1, 1);
  auto c = tab.cos.narrow(0, 0, t).to(at::kDouble).view({1, t, 1, hd / 2});
  auto s = tab.sin.narrow(0, 0, t).to(at::kDouble).view({1, t, 1, hd / 2});
  return at::stack({x0 * c - x1 * s, x0 * s + x1 * c}, -1).reshape({n, t, h, hd});
}

/// Per-example summed NLL [N] and logits [N, T, vocab] (double).
struct RefLoss {
  at::Tensor per_example, logits;
};

/// `w` maps GGUF tensor names to double tensors (token_embd doubles as the head: tied).
/// tokens: int64 [N, T + 1]; mask: float [N, T + 1], a target counts where mask > 0.
inline RefLoss reference_lm_loss(const LlamaConfig& cfg, std::map<std::string, at::Tensor>& w, const at::Tensor& tokens,
                  const at::Tensor& mask) {
  const int64_t n = tokens.size(0), t = tokens.size(1) - 1, h = cfg.n_heads, kv = cfg.n_kv_heads,
                hd = cfg.head_dim(), g = h / kv;
  const auto tab = RopeTables::make(cfg, cfg.context_length);
  auto inputs = tokens.narrow(1, 0, t), targets = tokens.narrow(1, 1, t);
  auto x = at::embedding(w[kTokenEmbdName], inputs);
  auto causal = at::full({t, t}, -std::numeric_limits<double>::infinity(), at::kDouble).triu(1);
  for (int l = 0; l < cfg.n_layers; ++l) {
    auto proj = [&](TargetModule m, const at::Tensor& in) { return at::matmul(in, w[gguf_projection_name(l, m)].t()); };
    auto hn = rms(x, w[gguf_attn_norm_name(l)], cfg.norm_eps);
    auto q = rope(proj(TargetModule::q, hn).view({n, t, h, hd}), tab).permute({0, 2, 1, 3});
    auto k = rope(proj(TargetModule::k, hn).view({n, t, kv, hd}), tab).permute({0, 2, 1, 3}).repeat_interleave(g, 1);
    auto v = proj(TargetModule::v, hn).view({n, t, kv, hd}).permute({0, 2, 1, 3}).repeat_interleave(g, 1);
    auto p = at::softmax(at::matmul(q, k.transpose(-1, -2)) / std::sqrt(static_cast<double>(hd)) + causal, -1);
    auto ctx = at::matmul(p, v).permute({0, 2, 1, 3}).reshape({n, t, h * hd});
    x = x + proj(TargetModule::o, ctx);
    auto hf = rms(x, w[gguf_ffn_norm_name(l)], cfg.norm_eps);
    x = x + proj(TargetModule::down, at::silu(proj(TargetModule::gate, hf)) * proj(TargetModule::up, hf));
  }
  auto logits = at::matmul(rms(x, w[kOutputNormName], cfg.norm_eps), w[kTokenEmbdName].t());
  auto nll = -at::log_softmax(logits, -1).gather(-1, targets.unsqueeze(-1)).squeeze(-1);
  nll = nll * mask.narrow(1, 1, t).to(at::kDouble);
  return {nll.sum(1), logits};
}

}  // namespace fedlora::lora::test
