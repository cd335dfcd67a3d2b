// Exact (ε, δ) of the Gaussian mechanism and of compositions of Gaussian mechanisms.
//
// Source: B. Balle, Y.-X. Wang, "Improving the Gaussian Mechanism for Differential Privacy:
// Analytical Calibration and Optimal Denoising", ICML 2018 (arXiv:1805.06530), Theorem 8:
// the Gaussian mechanism with L2 sensitivity Δ and noise N(0, s²) is (ε, δ)-DP iff
//     δ ≥ Φ(Δ/(2s) − ε s/Δ) − e^ε Φ(−Δ/(2s) − ε s/Δ).
// With μ = Δ/s this depends on μ only (Dong, Roth, Su 2019, "Gaussian Differential
// Privacy", Cor. 2.13: μ-GDP). Composing Gaussian mechanisms with noise multipliers σ_i
// (sensitivity 1 each) is again a Gaussian mechanism with μ = √(Σ_i σ_i^−2) (Dong et al.
// Cor. 3.3), so the figure below is exact, not a bound: tighter than RDP conversion.
// Neighbouring relation: add/remove one user (the Gaussian's privacy loss is symmetric).
#pragma once

namespace fedlora::privacy {

/// δ(ε) = Φ(μ/2 − ε/μ) − e^ε Φ(−μ/2 − ε/μ) of the Gaussian mechanism with
/// μ = sensitivity / noise std ≥ 0 (μ = 0: δ = 0; μ = +∞: δ = 1). ε ≥ 0.
/// Throws InvalidPrivacyParameter on μ < 0 / NaN or ε < 0 / NaN.
double analytic_gaussian_delta(double mu, double epsilon);

/// Smallest ε ≥ 0 with analytic_gaussian_delta(μ, ε) ≤ δ, by bisection to a relative
/// tolerance of 1e-12 (rounded up, so the result is never below the exact ε by more than
/// that). μ ≥ 0 (+∞ gives ε = +∞), δ ∈ (0, 1).
/// Throws InvalidPrivacyParameter on out-of-domain input.
double analytic_gaussian_epsilon(double mu, double delta);

/// μ of the composition of Gaussian mechanisms whose Σ_i σ_i^−2 is `sum_inverse_sigma2`
/// (each of sensitivity 1): μ = √(Σ σ_i^−2). sum ≥ 0 (+∞ allowed).
double gaussian_mu_from_sum_inverse_sigma2(double sum_inverse_sigma2);

}  // namespace fedlora::privacy
