#include "privacy/noise/ziggurat.h"

#include <cmath>

namespace fedlora::privacy::ziggurat {
namespace {

double density(double x) { return std::exp(-0.5 * x * x); }

Tables build() {
  Tables t{};
  t.x[0] = kV / density(kR);
  t.x[1] = kR;
  for (int i = 1; i < kLayers - 1; ++i) {
    t.x[i + 1] = std::sqrt(-2.0 * std::log(kV / t.x[i] + density(t.x[i])));
  }
  t.x[kLayers] = 0.0;
  for (int i = 0; i < kLayers; ++i) t.f[i] = density(t.x[i]);
  t.f[kLayers] = 1.0;
  return t;
}

}  // namespace

const Tables& tables() {
  static const Tables t = build();
  return t;
}

}  // namespace fedlora::privacy::ziggurat
