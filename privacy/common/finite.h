// Finiteness checks for vectors entering a DP mechanism. A NaN or ±Inf coordinate would
// make the L2 norm NaN/Inf, clipping a no-op and the sensitivity bound void, so such input
// is rejected before anything is clipped or noised.
#pragma once

#include <span>
#include <string_view>

namespace fedlora::privacy {

/// Throws NonFiniteValueError naming `what` and the first offending index if any element
/// of `values` is NaN or ±Inf.
void require_finite(std::span<const float> values, std::string_view what);
void require_finite(std::span<const double> values, std::string_view what);

}  // namespace fedlora::privacy
