#include "privacy/common/finite.h"

#include <cmath>
#include <string>

#include "privacy/errors.h"

namespace fedlora::privacy {
namespace {

template <typename T>
void check(std::span<const T> values, std::string_view what) {
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (!std::isfinite(values[i])) {
      throw NonFiniteValueError(std::string(what) + ": element " + std::to_string(i) + " of " +
                                std::to_string(values.size()) + " is " +
                                (std::isnan(values[i]) ? "NaN" : "infinite") +
                                "; the update is rejected before clipping or noise (check "
                                "the learning rate and the loss for divergence)");
    }
  }
}

}  // namespace

void require_finite(std::span<const float> values, std::string_view what) {
  check(values, what);
}
void require_finite(std::span<const double> values, std::string_view what) {
  check(values, what);
}

}  // namespace fedlora::privacy
