// Noise calibration: the smallest noise multiplier σ for which `steps` rounds of the
// Poisson-subsampled Gaussian mechanism stay within a target (ε, δ).
//
// ε(σ) (rdp.h + epsilon.h) is non-increasing in σ, so bisection on σ is exact up to the
// tolerance. The returned σ is the upper end of the final bracket: it always satisfies
// ε(σ) ≤ target (never the lower end, which would overshoot the budget).
#pragma once

#include <cstdint>
#include <span>

#include "privacy/accounting/epsilon.h"

namespace fedlora::privacy {

/// Result of noise_for_epsilon.
struct NoiseCalibration {
  double noise_multiplier;  ///< σ with achieved.epsilon ≤ target ε
  EpsilonResult achieved;   ///< ε(σ) and its optimal order
  int iterations;           ///< bisection steps taken
};

/// Bisection for σ: q ∈ (0, 1], steps ≥ 1, target ε > 0, δ ∈ (0, 1), orders as in rdp.h.
/// Stops when the bracket [lo, hi] satisfies hi − lo ≤ relative_tolerance · hi.
/// Throws InvalidPrivacyParameter on bad input, and PrivacyError if even σ = 1e6 does not
/// reach the target (which happens only for absurd settings such as ε ≈ 0).
NoiseCalibration noise_for_epsilon(double target_epsilon, double delta, double q,
                                   std::int64_t steps, std::span<const double> orders,
                                   double relative_tolerance = 1e-6);

}  // namespace fedlora::privacy
