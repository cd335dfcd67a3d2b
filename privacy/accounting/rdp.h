// Rényi-DP of the Poisson-subsampled Gaussian mechanism (the "sampled Gaussian
// mechanism", SGM).
//
// Source: I. Mironov, K. Talwar, L. Zhang, "Rényi Differential Privacy of the Sampled
// Gaussian Mechanism", arXiv:1908.10530 (2019). With μ0 = N(0, σ²), μ1 = N(1, σ²),
// μ = (1−q)μ0 + qμ1, the SGM is (α, ε)-RDP with ε = log(A_α)/(α−1), where
//   A_α = E_{z∼μ0}[(μ(z)/μ0(z))^α]                                     (§3, eq. for A_α)
// Integer α (§3.2):  A_α = Σ_{k=0}^{α} C(α,k) (1−q)^{α−k} q^k exp((k²−k)/(2σ²)).
// Fractional α (§3.3): the integral is split at z0 = σ² log(1/q − 1) + ½ and each half is
// expanded into a binomial series of erfc terms; the series has alternating signs past
// k > α and is summed exactly with signs (the value of TensorFlow Privacy's original
// accountant, e.g. RDP(q=0.01, σ=2.5, T=50, α=1.5) = 6.5007e-4).
// Everything is computed in log space.
//
// Conventions (shared with TensorFlow Privacy / dp_accounting):
//  * neighbouring datasets differ by adding or removing one record (add/remove-one DP),
//    which is what Poisson sampling composes with; noise_multiplier σ is the ratio of the
//    Gaussian standard deviation to the L2 sensitivity;
//  * q = 0 → RDP 0 at every order (nothing is touched);
//  * σ = 0 with q > 0 → RDP +∞ (no privacy);
//  * q = 1 → the plain Gaussian mechanism, α/(2σ²);
//  * α = +∞ with 0 < q ≤ 1 → +∞.
// Orders must be > 1 (finite) or +∞.
#pragma once

#include <cstdint>
#include <limits>
#include <span>
#include <vector>

namespace fedlora::privacy {

/// The order α = ∞ (pure-DP limit of RDP).
inline constexpr double kInfiniteOrder = std::numeric_limits<double>::infinity();

/// Default RDP orders: 1.1, 1.2, …, 10.9 (step 0.1), 11, 12, …, 63, 128, 256, 512, 1024
/// (156 orders). Dense at small α, where DP-SGD's optimum lies for large ε, and reaching
/// α = 1024 for small ε.
std::vector<double> default_orders();

/// Throws InvalidPrivacyParameter unless `orders` is non-empty and every order is > 1
/// (finite, not NaN) or +∞.
void validate_orders(std::span<const double> orders);

/// RDP ε(α) of ONE step of the Poisson-subsampled Gaussian mechanism.
/// q ∈ [0, 1] sampling rate, noise_multiplier σ ≥ 0, order α > 1 or +∞.
/// Returns a value in [0, +∞]. Throws InvalidPrivacyParameter on out-of-domain input.
/// A fractional-order series that has not converged after 20 000 terms yields +∞ for that
/// order (a valid, if useless, upper bound) rather than a truncated under-estimate.
double rdp_poisson_gaussian(double q, double noise_multiplier, double order);

/// RDP of `steps` compositions of the Poisson-subsampled Gaussian mechanism, one value per
/// order (RDP composes additively: steps · ε_1(α)). steps ≥ 0; steps = 0 gives zeros.
/// Throws InvalidPrivacyParameter on out-of-domain input.
std::vector<double> compute_rdp(double q, double noise_multiplier, std::int64_t steps,
                                std::span<const double> orders);

/// log(A_α) of the sampled Gaussian mechanism for 0 < q < 1, σ > 0, finite α > 1.
/// Exposed for tests that compare against an independent numerical integration.
double log_a_sampled_gaussian(double q, double noise_multiplier, double order);

}  // namespace fedlora::privacy
