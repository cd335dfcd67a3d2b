// Checked Gaussian noise addition on flat vectors (adapter updates, sums of updates).
#pragma once

#include <span>

#include "privacy/noise/noise_source.h"

namespace fedlora::privacy {

/// vec[i] += N(0, stddev²) for every coordinate, drawn from `source`.
/// Throws NonFiniteValueError (before adding anything) if vec holds NaN/Inf, and
/// InvalidPrivacyParameter if stddev is negative, NaN or infinite.
void add_gaussian_noise(std::span<float> vec, double stddev, NoiseSource& source);

}  // namespace fedlora::privacy
