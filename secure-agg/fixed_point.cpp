#include "secure-agg/fixed_point.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "secure-agg/errors.h"

namespace fedlora::secagg {
namespace {

unsigned ceil_log2(std::uint64_t n) {
  unsigned r = 0;
  while ((std::uint64_t{1} << r) < n) ++r;
  return r;
}

// Unbiased stochastic rounding of r >= 0: floor(r) + Bernoulli(frac(r)). frac * 2^64 is
// exact in double (power-of-two scaling), so P[round up] equals frac exactly.
std::uint64_t stochastic_round(double r, std::uint64_t u) {
  const double fl = std::floor(r);
  const double frac = r - fl;
  // frac <= 1 - 2^-53, so frac * 2^64 < 2^64 converts without overflow.
  // (A multiply by 2^64 rather than ldexp: the same exact value without a libm call.)
  const auto threshold = static_cast<std::uint64_t>(frac * 0x1p64);
  return static_cast<std::uint64_t>(fl) + (u < threshold ? 1 : 0);
}

}  // namespace

FixedPointCodec::FixedPointCodec(const FixedPointParams& params) : p_(params) {
  if (!std::isfinite(p_.clip) || p_.clip <= 0) {
    throw ConfigError("fixed point: clip c must be finite and > 0, got " + std::to_string(p_.clip));
  }
  if (p_.word_bits != 32 && p_.word_bits != 64) {
    throw ConfigError("fixed point: word_bits must be 32 or 64, got " + std::to_string(p_.word_bits));
  }
  if (p_.bits < 1 || p_.bits > 52) {
    throw ConfigError("fixed point: bits b must be in [1, 52] (double precision), got " +
                      std::to_string(p_.bits));
  }
  if (p_.max_contributors < 1) throw ConfigError("fixed point: max_contributors must be >= 1");
  const unsigned headroom = ceil_log2(p_.max_contributors);
  if (p_.bits + headroom > p_.word_bits) {
    throw ConfigError("fixed point: b + ceil(log2 n_max) = " + std::to_string(p_.bits) + " + " +
                      std::to_string(headroom) + " exceeds the word size " +
                      std::to_string(p_.word_bits) + ": the sum could wrap; lower bits, lower "
                      "max_contributors or use word_bits = 64");
  }
  if (p_.weight_clip && (!std::isfinite(*p_.weight_clip) || *p_.weight_clip <= 0)) {
    throw ConfigError("fixed point: weight_clip must be finite and > 0");
  }
  levels_ = (std::uint64_t{1} << p_.bits) - 1;
  step_ = 2.0 * p_.clip / static_cast<double>(levels_);
}

std::size_t FixedPointCodec::encoded_length(std::size_t dim) const {
  return dim + (p_.weight_clip ? 1 : 0);
}

double FixedPointCodec::sum_error_bound(std::uint32_t contributors) const {
  return static_cast<double>(contributors) * step_;
}

std::vector<std::uint64_t> FixedPointCodec::encode(std::span<const float> values,
                                                   crypto::RandomSource& rng,
                                                   std::optional<double> weight) const {
  if (p_.weight_clip.has_value() != weight.has_value()) {
    throw ConfigError(p_.weight_clip ? "fixed point: a weight is required (weight_clip is set)"
                                     : "fixed point: a weight was given but weight_clip is not set");
  }
  std::vector<std::uint64_t> out(encoded_length(values.size()));
  const double c = p_.clip;
  const double scale = static_cast<double>(levels_) / (2.0 * c);
  // Random words in blocks: one 64-bit uniform per coordinate.
  constexpr std::size_t kBlock = 4096;
  std::vector<std::uint64_t> u(kBlock);
  for (std::size_t base = 0; base < values.size(); base += kBlock) {
    const std::size_t n = std::min(kBlock, values.size() - base);
    rng.fill({reinterpret_cast<std::uint8_t*>(u.data()), n * 8});
    for (std::size_t i = 0; i < n; ++i) {
      const double x = values[base + i];
      if (!std::isfinite(x)) {
        throw ConfigError("fixed point: value " + std::to_string(base + i) +
                          " is not finite; clip/sanitize the update before encoding");
      }
      const double r = (std::clamp(x, -c, c) + c) * scale;
      out[base + i] = std::min(stochastic_round(r, u[i]), levels_);
    }
  }
  if (weight) {
    if (!std::isfinite(*weight)) throw ConfigError("fixed point: weight is not finite");
    const double w = std::clamp(*weight, 0.0, *p_.weight_clip);
    const double r = w / *p_.weight_clip * static_cast<double>(levels_);
    out.back() = std::min(stochastic_round(r, rng.next_u64()), levels_);
  }
  return out;
}

DecodedSum FixedPointCodec::decode_sum(std::span<const std::uint64_t> sum,
                                       std::uint32_t contributors) const {
  if (contributors < 1 || contributors > p_.max_contributors) {
    throw ConfigError("fixed point: contributors = " + std::to_string(contributors) +
                      " outside [1, max_contributors = " + std::to_string(p_.max_contributors) + "]");
  }
  const std::size_t extra = p_.weight_clip ? 1 : 0;
  if (sum.size() < extra) throw ConfigError("fixed point: sum vector lacks the weight coordinate");
  const std::uint64_t max_word = levels_ * contributors;  // < 2^w by construction
  DecodedSum out;
  const std::size_t dim = sum.size() - extra;
  out.values.resize(dim);
  const double offset = static_cast<double>(contributors) * p_.clip;
  for (std::size_t i = 0; i < sum.size(); ++i) {
    if (sum[i] > max_word) {
      throw ProtocolError("fixed point: summed word " + std::to_string(i) + " = " +
                          std::to_string(sum[i]) + " exceeds contributors*(2^b-1) = " +
                          std::to_string(max_word) + ": wrong contributor count or corrupted sum");
    }
  }
  for (std::size_t i = 0; i < dim; ++i) out.values[i] = static_cast<double>(sum[i]) * step_ - offset;
  if (extra) out.weight_sum = static_cast<double>(sum.back()) * (*p_.weight_clip / static_cast<double>(levels_));
  return out;
}

}  // namespace fedlora::secagg
