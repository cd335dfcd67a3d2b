#include "lora/model/decoder.h"

#include <cmath>
#include <stdexcept>
#include <vector>

#include "lora/model/attention.h"
#include "lora/model/decoder_block.h"
#include "lora/model/fused_ops.h"

namespace fedlora::lora {

RopeTables RopeTables::make(const LlamaConfig& cfg, int64_t max_len) {
  const int64_t half = cfg.head_dim() / 2;
  auto i = at::arange(half, at::kDouble);
  auto inv_freq = at::pow(static_cast<double>(cfg.rope_theta), -2.0 * i / static_cast<double>(cfg.head_dim()));
  auto pos = at::arange(max_len, at::kDouble);
  auto ang = at::outer(pos, inv_freq);
  return {ang.cos().to(at::kFloat).contiguous(), ang.sin().to(at::kFloat).contiguous()};
}

namespace {

// Logit rows per lm_head call in lm_loss. The [rows, vocab] logits and their gradient are
// then 4 MB each for the default vocabulary instead of 32 MB at batch 16 × 128: glibc serves
// blocks of 32 MB and more with fresh mmap'd pages every time, whose page faults cost more
// than the cross-entropy itself on this VM (runtime.h, keep_freed_memory_in_heap). 256
// rather than 512 rows keeps the 135M-class checkpointed int8 step under 400 MB (406 → 395).
constexpr int64_t kLossChunkRows = 256;

// Everything of the forward pass but the LM head: the final-normed hidden states [N, T, D].
at::Tensor final_hidden(DecoderWeights& w, const at::Tensor& tokens) {
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
  // Rotary tables for the whole context, built once per thread and config.
  thread_local RopeTables rope;
  thread_local LlamaConfig rope_cfg{};
  thread_local int64_t rope_len = 0;
  if (rope_len < t || rope_cfg.head_dim() != cfg.head_dim() || rope_cfg.rope_theta != cfg.rope_theta) {
    rope = RopeTables::make(cfg, cfg.context_length);
    rope_cfg = cfg;
    rope_len = cfg.context_length;
  }
  if (w.activation_checkpointing() && at::GradMode::is_enabled()) {
    // Only each block's input stays alive; backward recomputes the block (decoder_block.h).
    at::Tensor x = w.embed(tokens);
    for (int l = 0; l < cfg.n_layers; ++l) x = checkpointed_decoder_block(w, l, x, rope);
    return rms_norm(x, w.output_norm(), cfg.norm_eps);
  }
  // Pre-norm blocks (Touvron et al. 2023): x += attn(norm(x)); x += mlp(norm(x)). Each
  // residual add is fused with the norm that follows it (add_rms_norm), so the stream's
  // gradient is summed inside one node.
  at::Tensor x = w.embed(tokens);  // [N, T, D]
  at::Tensor hn = rms_norm(x, w.attn_norm(0), cfg.norm_eps);
  for (int l = 0; l < cfg.n_layers; ++l) {
    auto q = w.project(l, TargetModule::q, hn);  // [N, T, H·hd]
    auto k = w.project(l, TargetModule::k, hn);  // [N, T, KV·hd]
    auto v = w.project(l, TargetModule::v, hn);
    auto ctx = rope_causal_attention(q, k, v, rope.cos, rope.sin, cfg.n_heads, cfg.n_kv_heads, w.attention_products());
    auto [x_attn, hf] = add_rms_norm(x, w.project(l, TargetModule::o, ctx), w.ffn_norm(l), cfg.norm_eps);
    auto act = swiglu(w.project(l, TargetModule::gate, hf), w.project(l, TargetModule::up, hf));
    const at::Tensor next_norm = l + 1 < cfg.n_layers ? w.attn_norm(l + 1) : w.output_norm();
    auto [x_mlp, h_next] = add_rms_norm(x_attn, w.project(l, TargetModule::down, act), next_norm, cfg.norm_eps);
    x = x_mlp;
    hn = h_next;
  }
  return hn;
}

}  // namespace

at::Tensor decoder_forward(DecoderWeights& w, const at::Tensor& tokens) { return w.lm_head(final_hidden(w, tokens)); }

LmLoss lm_loss(DecoderWeights& w, const at::Tensor& tokens, const at::Tensor& mask) {
  if (tokens.dim() != 2 || tokens.scalar_type() != at::kLong)
    throw std::invalid_argument("lm_loss: tokens must be int64 [N, T]");
  const int64_t n = tokens.size(0), t = tokens.size(1);
  if (t < 2) throw std::invalid_argument("lm_loss: need at least 2 tokens per sequence");
  if (mask.defined() && mask.sizes() != tokens.sizes())
    throw std::invalid_argument("lm_loss: mask must have the shape of tokens [N, T]");
  const int64_t dim = w.config().dim;
  auto hidden = final_hidden(w, tokens.narrow(1, 0, t - 1)).reshape({-1, dim});  // [N·(T-1), D]
  auto targets = tokens.narrow(1, 1, t - 1).reshape({-1});
  at::Tensor m;
  if (mask.defined()) m = mask.narrow(1, 1, t - 1).to(at::kFloat).reshape({-1}).contiguous();
  // The head and the cross-entropy (one pass per logit row for loss, log-sum-exp and
  // argmax; fused_ops.h) run on row chunks; split's backward concatenates the chunks'
  // gradients once.
  std::vector<at::Tensor> nll, hit;
  const auto parts = hidden.split(kLossChunkRows, 0);
  int64_t row = 0;
  for (const auto& part : parts) {
    const int64_t rows = part.size(0);
    auto ce = cross_entropy(w.lm_head(part), targets.narrow(0, row, rows), m.defined() ? m.narrow(0, row, rows) : m);
    nll.push_back(ce.nll);
    hit.push_back(ce.hit);
    row += rows;
  }
  LmLoss out;
  out.per_example = (nll.size() == 1 ? nll[0] : at::cat(nll)).view({n, t - 1}).sum(1);
  out.sum = out.per_example.sum();
  out.correct = (hit.size() == 1 ? hit[0] : at::cat(hit)).sum();
  out.n_targets = m.defined() ? m.gt(0).sum().item<int64_t>() : n * (t - 1);
  return out;
}

}  // namespace fedlora::lora
