#pragma once
// Fixed-point encoding of real vectors into Z_{2^w} for secure aggregation.
//
// Each coordinate is clipped to [-c, c], mapped affinely onto [0, 2^b - 1] and
// rounded stochastically and unbiasedly (E[q] = exact scaled value), as in the
// distributed-DP pipelines of Kairouz et al. ICML'21 (distributed discrete Gaussian; their
// randomized rounding without the norm check). Words of n contributors sum to at most
// n (2^b - 1) < 2^(b + ceil(log2 n)) <= 2^w, so the modular sum never wraps and the
// server decodes it exactly.
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "secure-agg/crypto/random.h"

namespace fedlora::secagg {

struct FixedPointParams {
  double clip = 1.0;                  ///< c > 0: values are clipped to [-c, c]
  unsigned bits = 16;                 ///< b in [1, 52]: quantization levels 2^b
  std::uint32_t max_contributors = 1; ///< n_max >= 1: most inputs that will be summed
  unsigned word_bits = 32;            ///< w: 32 or 64, the SecAgg modulus 2^w
  /// If set (> 0), one extra coordinate carries an example weight in [0, weight_clip]
  /// with the same b bits; decode_sum returns its sum separately.
  std::optional<double> weight_clip = std::nullopt;
};

struct DecodedSum {
  std::vector<double> values;          ///< sum over contributors, length = dim
  std::optional<double> weight_sum;    ///< sum of weights, if a weight coordinate is used
};

/// Encoder/decoder for one parameter set. Immutable and thread-safe after construction.
class FixedPointCodec {
 public:
  /// Validates params: c finite and > 0; 1 <= b <= 52 (double mantissa); w in {32, 64};
  /// b + ceil(log2 n_max) <= w; weight_clip finite and > 0 if set. Throws ConfigError.
  explicit FixedPointCodec(const FixedPointParams& params);

  const FixedPointParams& params() const { return p_; }
  /// Words per encoded vector: dim, plus one if a weight coordinate is used.
  std::size_t encoded_length(std::size_t dim) const;
  /// Quantization step 2c / (2^b - 1) of one value coordinate.
  double step() const { return step_; }
  /// Worst-case |decoded - clipped exact| per coordinate for `contributors` inputs:
  /// each contributes less than one step of rounding error.
  double sum_error_bound(std::uint32_t contributors) const;

  /// Encodes values (float32, length dim) and the optional weight into words < 2^b.
  /// Non-finite values throw ConfigError; values outside [-c, c] are clipped.
  /// weight is required iff params.weight_clip is set, and is clipped to [0, weight_clip].
  std::vector<std::uint64_t> encode(std::span<const float> values, crypto::RandomSource& rng,
                                    std::optional<double> weight = std::nullopt) const;

  /// Decodes the modular sum of `contributors` encoded vectors (words < 2^w).
  /// Throws ConfigError if contributors is 0 or exceeds n_max, ProtocolError if a word
  /// exceeds contributors * (2^b - 1), which no honest sum can reach.
  DecodedSum decode_sum(std::span<const std::uint64_t> sum, std::uint32_t contributors) const;

 private:
  FixedPointParams p_;
  std::uint64_t levels_;  // 2^b - 1
  double step_;
};

}  // namespace fedlora::secagg
