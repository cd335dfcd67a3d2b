#include "lora/model/kv_cache.h"

#include <cmath>
#include <stdexcept>
#include <string>

#include "lora/model/fused_ops.h"

namespace fedlora::lora {
namespace {

// x [B, T, heads, hd] rotated at positions [p0, p0 + T): adjacent pairs (2i, 2i+1), as
// rope_causal_attention and ggml's normal RoPE mode.
at::Tensor rope_at(const at::Tensor& x, const RopeTables& rope, int64_t p0) {
  const int64_t t = x.size(1), hd = x.size(3);
  auto pairs = x.reshape({x.size(0), t, x.size(2), hd / 2, 2});
  auto x0 = pairs.select(4, 0), x1 = pairs.select(4, 1);
  auto c = rope.cos.narrow(0, p0, t).view({1, t, 1, hd / 2});
  auto s = rope.sin.narrow(0, p0, t).view({1, t, 1, hd / 2});
  return at::stack({x0 * c - x1 * s, x0 * s + x1 * c}, 4).reshape(x.sizes());
}

}  // namespace

KvCache::KvCache(const LlamaConfig& cfg, int64_t batch)
    : batch_(batch), capacity_(cfg.context_length), rope_(RopeTables::make(cfg, cfg.context_length)) {
  if (batch < 1) throw std::invalid_argument("KvCache: batch must be >= 1");
  for (int64_t l = 0; l < cfg.n_layers; ++l) {
    k_.push_back(at::zeros({batch, cfg.n_kv_heads, capacity_, cfg.head_dim()}, at::kFloat));
    v_.push_back(at::zeros({batch, cfg.n_kv_heads, capacity_, cfg.head_dim()}, at::kFloat));
  }
}

void KvCache::select_rows(const at::Tensor& rows) {
  if (rows.dim() != 1 || rows.scalar_type() != at::kLong || rows.numel() < 1)
    throw std::invalid_argument("KvCache::select_rows: rows must be a non-empty int64 vector");
  if (rows.min().item<int64_t>() < 0 || rows.max().item<int64_t>() >= batch_)
    throw std::invalid_argument("KvCache::select_rows: row index outside [0, " + std::to_string(batch_) + ")");
  for (size_t l = 0; l < k_.size(); ++l) {
    k_[l] = k_[l].index_select(0, rows);
    v_[l] = v_[l].index_select(0, rows);
  }
  batch_ = rows.numel();
}

at::Tensor decode_append(DecoderWeights& w, KvCache& cache, const at::Tensor& tokens) {
  const auto& cfg = w.config();
  if (tokens.dim() != 2 || tokens.scalar_type() != at::kLong || tokens.size(0) != cache.batch_)
    throw std::invalid_argument("decode_append: tokens must be int64 [" + std::to_string(cache.batch_) + ", T]");
  const int64_t b = tokens.size(0), t = tokens.size(1), p0 = cache.length_;
  if (t < 1 || p0 + t > cache.capacity_)
    throw std::invalid_argument("decode_append: " + std::to_string(p0) + " cached + " + std::to_string(t) +
                                " new positions exceed the context length " + std::to_string(cache.capacity_));
  if (tokens.min().item<int64_t>() < 0 || tokens.max().item<int64_t>() >= cfg.vocab_size)
    throw std::invalid_argument("decode_append: token id out of range [0, " + std::to_string(cfg.vocab_size) + ")");
  at::NoGradGuard no_grad;
  const int64_t hd = cfg.head_dim(), h = cfg.n_heads, kv = cfg.n_kv_heads, len = p0 + t;
  const double inv_sqrt = 1.0 / std::sqrt(static_cast<double>(hd));
  // Query i (position p0 + i) sees keys j <= p0 + i.
  auto allowed = at::arange(len, at::kLong).view({1, len}) <= (at::arange(t, at::kLong) + p0).view({t, 1});
  at::Tensor x = w.embed(tokens);  // [B, T, D]
  for (int l = 0; l < cfg.n_layers; ++l) {
    auto hn = rms_norm(x, w.attn_norm(l), cfg.norm_eps);
    auto q = rope_at(w.project(l, TargetModule::q, hn).view({b, t, h, hd}), cache.rope_, p0);
    auto k = rope_at(w.project(l, TargetModule::k, hn).view({b, t, kv, hd}), cache.rope_, p0);
    auto v = w.project(l, TargetModule::v, hn).view({b, t, kv, hd});
    cache.k_[l].narrow(2, p0, t).copy_(k.transpose(1, 2));
    cache.v_[l].narrow(2, p0, t).copy_(v.transpose(1, 2));
    auto keys = cache.k_[l].narrow(2, 0, len).repeat_interleave(h / kv, 1);  // [B, H, len, hd]
    auto vals = cache.v_[l].narrow(2, 0, len).repeat_interleave(h / kv, 1);
    auto scores = at::matmul(q.transpose(1, 2), keys.transpose(2, 3)) * inv_sqrt;  // [B, H, T, len]
    scores = scores.masked_fill(allowed.logical_not(), -INFINITY);
    auto ctx = at::matmul(at::softmax(scores, -1), vals).transpose(1, 2).reshape({b, t, h * hd});
    x = x + w.project(l, TargetModule::o, ctx);
    auto hf = rms_norm(x, w.ffn_norm(l), cfg.norm_eps);
    x = x + w.project(l, TargetModule::down,
                      swiglu(w.project(l, TargetModule::gate, hf), w.project(l, TargetModule::up, hf)));
  }
  cache.length_ = len;
  auto last = rms_norm(x.select(1, t - 1).contiguous(), w.output_norm(), cfg.norm_eps);  // [B, D]
  return w.lm_head(last);
}

}  // namespace fedlora::lora
