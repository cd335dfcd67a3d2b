#pragma once
// FLOP count of one local training step of the LoRA model (a multiply-add is 2 FLOP), as
// the implementation executes it. The simulated clock (simulator/run/sim_clock.h) divides it
// by a device's GFLOP/s; train_bench reports achieved GFLOP/s with it.
//
// M = tokens per step, L layers, T positions, D = dim, r = LoRA rank, V·D = LM head,
// P = Σ over all 7·L projections of in·out, P₀ = the same over layer 0's q, k, v,
// P_a = Σ over the adapted projections of in·out, S = Σ over the adapted projections of
// (in + out), E = attention_scores_computed(T) score entries per head:
//   forward   2·M·P + 2·M·V·D + 2·r·P_a (merges W' = W + s·B·A, once per step) + 4·M·D·L·E/T
//   backward  2·M·(P − P₀) + 2·M·V·D (input gradients; the frozen base has no weight
//             gradient, layer 0's q/k/v input needs none) + 2·r·(P_a − P₀ₐ) (the merges again, but
//             not layer 0's adapted q/k/v: P₀ₐ)
//             + 4·M·r·S (LoRA) + 8·M·D·L·E/T (attention)
//   checkpointing adds every block's forward again: 2·M·P + 4·M·D·L·E/T + 2·r·P_a.
// Elementwise work (norms, RoPE, softmax, SiLU, cross-entropy, Adam) is not counted. The
// int8 base path does the same products in int8 and skips the merges; it is counted as the
// fp32 work it replaces (a work-equivalent rate).
#include <cstdint>
#include <span>

#include "lora/adapter/adapter_layout.h"
#include "lora/model/llama_config.h"

namespace fedlora::lora {

/// FLOP per target token of a step of `tokens_per_step` = batch · seq_len tokens, merges
/// included (spread over the step's tokens). seq_len in [1, config.context_length];
/// `adapted` = the LoRA target modules, rank >= 1. Throws std::invalid_argument otherwise.
double train_flop_per_token(const LlamaConfig& config, std::span<const TargetModule> adapted, int64_t rank,
                            int64_t seq_len, int64_t tokens_per_step, bool checkpointed);

}  // namespace fedlora::lora
