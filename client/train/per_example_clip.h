#pragma once
// Steps 2-4 of DP-SGD (Abadi et al. 2016, Algorithm 1) on the per-example LoRA gradients
// that LoraModel's backward pass writes into a PerExampleGrads sink: clip every example's
// FULL gradient (all lora_A / lora_B tensors together) to L2 norm C, sum over the lot, add
// N(0, σ²C²) per coordinate, divide by the expected lot size q·N.
//
// This is the LibTorch counterpart of privacy::dp_sgd_noisy_gradient (privacy/dpsgd/dp_sgd.h)
// and follows it number for number: norms and sums in double, clip factors from
// privacy::clip_factor (so clipped norms stay strictly below C despite float rounding),
// noise drawn in layout order from one NoiseSource, one normal per coordinate.
#include <ATen/ATen.h>

#include <cstdint>
#include <vector>

#include "lora/adapter/adapter_layout.h"
#include "lora/model/lora_ops.h"
#include "privacy/noise/noise_source.h"

namespace fedlora::client {

/// Checks that `g` holds, for every tensor of `layout` (slot k = layout.tensors()[k]), a
/// float32 [B, rows, cols] tensor with the same B in every slot, and returns B.
/// Throws std::invalid_argument naming the first slot that is missing or misshapen.
int64_t per_example_batch_size(const lora::PerExampleGrads& g, const lora::AdapterLayout& layout);

/// ‖g_i‖₂ over all slots together for every example i, squares accumulated in double.
/// Returns B values. Throws std::invalid_argument as per_example_batch_size.
std::vector<double> per_example_l2_norms(const lora::PerExampleGrads& g, const lora::AdapterLayout& layout);

/// Clips in place: multiplies example i's slice of every slot by privacy::clip_factor(‖g_i‖, C)
/// (1 when ‖g_i‖ ≤ C). Returns the norms before clipping.
/// Throws privacy::NonFiniteValueError (before modifying anything) if a norm is NaN/Inf, and
/// privacy::InvalidPrivacyParameter unless C is finite and > 0.
std::vector<double> clip_per_example(lora::PerExampleGrads& g, const lora::AdapterLayout& layout, double l2_norm_clip);

/// Σ_i g_i flattened in layout order (length layout.size()), summed in double.
std::vector<double> sum_per_example(const lora::PerExampleGrads& g, const lora::AdapterLayout& layout);

/// (sum + N(0, (σC)² I)) / (q·N), rounded to float. Draws sum.size() normals from `noise` in
/// order (also when σ = 0, so the stream position does not depend on σ).
/// Throws privacy::InvalidPrivacyParameter if σC is negative/non-finite or q·N is not > 0.
std::vector<float> privatize_sum(std::vector<double> sum, double noise_multiplier, double l2_norm_clip,
                                 double expected_batch_size, privacy::NoiseSource& noise);

}  // namespace fedlora::client
