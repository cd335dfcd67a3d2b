#include "privacy/common/l2_clip.h"

#include <cmath>
#include <string>

#include "privacy/common/finite.h"
#include "privacy/errors.h"

namespace fedlora::privacy {

double l2_norm(std::span<const float> v) noexcept {
  double sum = 0.0;
  for (float x : v) sum += static_cast<double>(x) * static_cast<double>(x);
  return std::sqrt(sum);
}

double clip_factor(double norm, double clip) {
  if (!(clip > 0.0) || std::isinf(clip)) {
    throw InvalidPrivacyParameter("clip_factor: L2 clipping norm " + std::to_string(clip) +
                                  " must be finite and > 0");
  }
  if (!(norm >= 0.0) || std::isinf(norm)) {
    throw NonFiniteValueError("clip_factor: L2 norm " + std::to_string(norm) +
                              " is not a finite non-negative number; the gradient holds "
                              "NaN/Inf and must be rejected, not clipped");
  }
  if (norm <= clip) return 1.0;
  return (clip / norm) * (1.0 - kClipMargin);
}

double clip_l2(std::span<float> v, double clip) {
  require_finite(v, "clip_l2");
  const double norm = l2_norm(v);
  const double factor = clip_factor(norm, clip);
  if (factor < 1.0) {
    for (float& x : v) x = static_cast<float>(static_cast<double>(x) * factor);
  }
  return norm;
}

}  // namespace fedlora::privacy
