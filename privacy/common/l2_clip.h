// L2 clipping shared by example-level DP-SGD (Abadi et al. 2016, Alg. 1 "clip gradient":
// g ← g / max(1, ‖g‖₂/C)) and user-level update clipping (McMahan et al. 2018, Alg. 1
// "ClipFn": Δ ← Δ · min(1, S/‖Δ‖₂)).
//
// When a vector is clipped, the factor is (C/‖g‖)·(1 − kClipMargin) and the product is
// formed in double and rounded once to float, so the stored vector's norm is at most
// C·(1 − 1e-6)·(1 + 2^-24) < C: float rounding can never push a clipped vector above the
// sensitivity bound the accountant assumes. Vectors already within C are left untouched.
#pragma once

#include <span>

namespace fedlora::privacy {

/// Relative shrink applied on top of C/‖g‖ when clipping (see above).
inline constexpr double kClipMargin = 1e-6;

/// ‖v‖₂ accumulated in double.
double l2_norm(std::span<const float> v) noexcept;

/// Multiplier that clips a vector of norm `l2_norm` to `clip`: 1 if l2_norm ≤ clip, else
/// (clip / l2_norm)·(1 − kClipMargin). For the per-example step of DP-SGD computed
/// elsewhere (e.g. LibTorch), take l2_norm over ALL LoRA tensors of one example together.
/// Throws InvalidPrivacyParameter unless clip is finite and > 0, and NonFiniteValueError
/// if l2_norm is NaN or infinite (or negative).
double clip_factor(double l2_norm, double clip);

/// Clips `v` in place to L2 norm ≤ clip and returns its norm BEFORE clipping.
/// Throws NonFiniteValueError (leaving v untouched) if v holds NaN/Inf, and
/// InvalidPrivacyParameter unless clip is finite and > 0.
double clip_l2(std::span<float> v, double clip);

}  // namespace fedlora::privacy
