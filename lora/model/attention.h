#pragma once
// Rotary embedding + grouped-query causal self-attention of the Llama decoder as one
// autograd node (Touvron et al. 2023; GQA: Ainslie et al. 2023; RoPE: Su et al. 2021 §3.4,
// adjacent pairs (2i, 2i+1) as ggml's "normal" mode used by llama.cpp for LLM_ARCH_LLAMA).
// Rotation and regrouping of Q, K, V into per-KV-head blocks happen in one pass, so each
// product is one BLAS call for all the query heads sharing a KV head. The causal mask is
// applied inside the softmax pass instead of as an additive [T, T] tensor, and query rows
// go in blocks of kAttentionRowBlock positions that only meet the keys they can see.
#include <ATen/ATen.h>

#include "lora/model/bf16_gemm.h"

namespace fedlora::lora {

/// Query rows are processed in blocks of this many positions; block b (rows
/// [b·B, min(T, (b+1)·B))) computes scores only against keys [0, min(T, (b+1)·B)), so the
/// score blocks entirely above the diagonal are never computed.
inline constexpr int64_t kAttentionRowBlock = 32;

/// Score entries computed per head for a sequence of length t: Σ_b rows_b · keys_b
/// (t² when t <= kAttentionRowBlock). Each of the 6 products per head (Q·Kᵀ and P·V
/// forward; dC·Vᵀ, Pᵀ·dC, dS·K, dSᵀ·Q backward) costs 2·head_dim FLOP per entry.
int64_t attention_scores_computed(int64_t t);

/// q: float32 [N, T, H·hd]; k, v: [N, T, KV·hd] (projection outputs, before RoPE);
/// cos, sin: float32 [>= T, hd/2], cos[p, i] = cos(p θ_i) (RopeTables in decoder.h).
/// Returns ctx [N, T, H·hd] with, for head h (KV head h / (H/KV)) and position i:
///   ctx_h[i] = Σ_{j<=i} softmax_j(⟨rope(q_h)[i], rope(k)[j]⟩ / √hd) · v[j].
/// Equals the plain composition (rope, matmul, + mask, softmax, matmul) up to float
/// rounding; differentiable in q, k, v. Keeps the probabilities (N·H·T·T floats) and the
/// rotated Q, K and V for backward.
/// products: the precision of the 6 products (bf16_gemm.h); with bf16 the probabilities stay
/// float32 and only the products' operands are rounded. The softmax and RoPE are float32
/// either way.
/// Throws std::invalid_argument on inconsistent shapes (H % KV != 0, odd hd, T > table).
at::Tensor rope_causal_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& cos,
                                 const at::Tensor& sin, int64_t n_heads, int64_t n_kv_heads,
                                 FloatProducts products = FloatProducts::fp32);

}  // namespace fedlora::lora
