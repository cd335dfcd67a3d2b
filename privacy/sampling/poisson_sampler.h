// Poisson sampling: every element joins the batch independently with probability q, so the
// batch size is Binomial(n, q). This is the sampling scheme the RDP accountant (rdp.h)
// analyses (Abadi et al. 2016 §3.1 "lots"; Mironov, Talwar, Zhang 2019; McMahan et al.
// 2018 for user sampling). Fixed-size shuffled batches are NOT Poisson and must not be
// accounted as such; this library offers no fixed-size sampler.
#pragma once

#include <cstdint>
#include <vector>

#include "privacy/noise/noise_source.h"

namespace fedlora::privacy {

/// Indices i ∈ [0, n) each included independently with probability q, in increasing
/// order. Draws one 53-bit uniform per element from `rng` (use NoiseSource::from_seed in
/// simulation, from_os_entropy in production). The result may be empty.
/// Throws InvalidPrivacyParameter if n < 0 or q ∉ [0, 1].
std::vector<std::int64_t> poisson_sample(std::int64_t n, double q, NoiseSource& rng);

}  // namespace fedlora::privacy
