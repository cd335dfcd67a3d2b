#pragma once
// Fused autograd ops of the decoder: each is one graph node with a hand-written backward
// replacing a chain of ATen ops (and their temporaries). Values and gradients equal the
// plain ATen compositions given in each comment up to float rounding
// (tests/lora/model/fused_ops_test.cpp). All tensors float32; inputs need not be
// contiguous (they are made so); outputs are contiguous.
#include <ATen/ATen.h>

namespace fedlora::lora {

/// RMSNorm (Zhang & Sennrich 2019): x [..., d], weight [d] →
/// x · rsqrt(mean(x², -1) + eps) · weight, shape of x.
/// Differentiable in x and weight. Throws std::invalid_argument on a shape or dtype mismatch.
at::Tensor rms_norm(const at::Tensor& x, const at::Tensor& weight, double eps);

/// The pre-norm residual step: sum = x + delta, normed = rms_norm(sum, weight, eps).
/// x, delta [..., d] (same shape), weight [d]. One node: the residual stream's gradient is
/// accumulated inside it instead of by separate add nodes. Either output may be unused.
struct AddNorm {
  at::Tensor sum;
  at::Tensor normed;
};
AddNorm add_rms_norm(const at::Tensor& x, const at::Tensor& delta, const at::Tensor& weight, double eps);

/// SwiGLU gate (Shazeer 2020): silu(gate) ⊙ up, gate and up of the same shape.
at::Tensor swiglu(const at::Tensor& gate, const at::Tensor& up);

/// Token cross-entropy over logits [M, V] with int64 targets [M] and optional float32
/// weights [M] (undefined = all 1):
///   nll [M]  = weights ⊙ (logsumexp(logits, -1) − logits[m, target_m]), differentiable in
///              logits (= −log_softmax(logits).gather(targets) · weights); rows of weight 0
///              give 0 and a zero gradient without being read;
///   hit [M]  = bool, argmax(logits[m]) == target_m and weight_m > 0 (no gradient).
/// The backward writes weights · g · (softmax − onehot) row by row; no [M, V] one-hot or
/// log-probability tensor is kept. Throws std::invalid_argument on shapes or a target
/// outside [0, V).
struct CrossEntropy {
  at::Tensor nll;
  at::Tensor hit;
};
CrossEntropy cross_entropy(const at::Tensor& logits, const at::Tensor& targets, const at::Tensor& weights = {});

}  // namespace fedlora::lora
