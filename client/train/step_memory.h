#pragma once
// How much memory one local training step takes, and the step settings that fit a device's
// memory budget (issue: training at real model sizes on phones). The device picks the
// largest micro-batch (gradient accumulation: the same update as the whole batch) and turns
// on activation checkpointing per decoder block (Chen et al. 2016) only when micro-batching
// alone cannot fit.
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>

#include "lora/model/llama_config.h"

namespace fedlora::client {

/// The step's settings that change its memory, not its result.
struct StepMemorySettings {
  int micro_batch = 1;              ///< examples per forward/backward pass (<= the batch)
  bool activation_checkpointing = false;
};

/// What the estimate depends on.
struct StepShape {
  lora::LlamaConfig model;
  int64_t adapter_size = 0;         ///< LoRA values d (lora_A and lora_B of every target)
  int64_t largest_projection = 0;   ///< max in·out over the 7 projections (scratch per weight)
  int batch = 1;                    ///< examples B per optimizer step (DP-SGD: the expected lot)
  int64_t seq_len = 1;              ///< tokens per example T (the longest window)
  bool dp_sgd = false;              ///< per-example gradients are kept (DP-SGD)
  bool fedprox = false;             ///< a copy of θ_t is kept
  /// int8 base products: the projections as row-wise int8, kept whole while not
  /// checkpointing (lora/model/lora_model.h); 0 with fp32 products.
  int64_t int8_base_bytes = 0;
};

/// Estimated peak bytes one step adds on top of the loaded runtime and base weights:
///   activations  non-checkpointed: L · M · a · 4 · 1.25, a = 7D + 2·KV·hd + 3F + H·T floats
///                per token and block (block input and norm outputs, rotated Q/K/V, the
///                attention probabilities, SwiGLU inputs and output, residuals), M = b·T;
///                checkpointed: L · M · D · 4 (block inputs) + 2 · M · a · 4 · 1.25 (the
///                recomputed block and its gradients). The factors are calibrated on the
///                135M shape (bench/train_bench, Q4_0, 4×128): 797 MB added measured vs
///                862 estimated; checkpointed 173 MB vs 194.
///   LM head      min(M, 512) rows · V · 4 · 3 (logits, their gradient, softmax) + M · D · 4 · 2
///   scratch      2 · largest projection · 4 (dequantized and merged weight) + V · D · 4
///   adapter      d · 4 · 4 (θ, gradient, Adam's two moments), + d · 4 with FedProx
///   DP-SGD       b · d · 4 · 2 (per-example gradients and their clipped copies)
///   int8 base    int8_base_bytes, when not checkpointing
/// with b = settings.micro_batch. An estimate for planning, not a bound: check it against
/// the peak RSS the device reports.
double estimate_step_bytes(const StepShape& shape, const StepMemorySettings& settings);

/// The device cannot train this task within its budget, even with micro-batches of one
/// example and checkpointing. The message gives the budget and the smallest estimate.
struct MemoryBudgetExceeded : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// The settings for a budget of `budget_mb` MB (10⁶ bytes) on top of runtime and weights:
/// the whole batch without checkpointing if it fits, else the largest micro-batch without
/// checkpointing, else the largest micro-batch with it (micro-batching adds no compute,
/// checkpointing adds a forward pass). Throws MemoryBudgetExceeded if nothing fits,
/// std::invalid_argument if budget_mb <= 0 or the shape is empty.
StepMemorySettings plan_step_memory(const StepShape& shape, double budget_mb);

}  // namespace fedlora::client
