// Example-level DP-SGD on flat vectors: the torch-free half of the on-device step.
//
// Source: M. Abadi et al., "Deep Learning with Differential Privacy", CCS 2016,
// Algorithm 1, with Poisson-sampled lots as analysed in §3.1 and by Mironov, Talwar, Zhang
// 2019: each step
//   1. samples every example independently with probability q (poisson_sample),
//   2. clips every sampled example's FULL gradient (all LoRA tensors together) to L2 norm C
//      (clip_factor / clip_l2),
//   3. sums the clipped gradients and adds N(0, σ²C²) to every coordinate,
//   4. divides by the EXPECTED batch size q·N (not by the realised batch size, which would
//      leak it and break the Poisson analysis).
// The accounting for T such steps is compute_rdp(q, σ, T, orders) (rdp.h).
//
// The LibTorch trainer computes per-example gradients itself and uses clip_factor() and
// NoiseSource; dp_sgd_noisy_gradient() is the reference it can be tested against.
#pragma once

#include <Eigen/Core>
#include <cstdint>

#include "privacy/noise/noise_source.h"

namespace fedlora::privacy {

/// Row-major so that every example's gradient (one row) is contiguous.
using PerExampleGradients = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

/// Parameters of example-level DP-SGD.
struct DpSgdConfig {
  double l2_norm_clip = 1.0;      ///< C > 0, L2 bound on one example's gradient
  double noise_multiplier = 1.0;  ///< σ ≥ 0; noise std is σ·C
  double sampling_rate = 0.01;    ///< q ∈ (0, 1], Poisson inclusion probability
  std::int64_t dataset_size = 1;  ///< N ≥ 1 examples on this device

  /// Throws InvalidPrivacyParameter naming the first field out of its domain.
  void validate() const;
  /// q·N, the divisor of step 4.
  [[nodiscard]] double expected_batch_size() const {
    return sampling_rate * static_cast<double>(dataset_size);
  }
  /// σ·C, the per-coordinate noise standard deviation added to the SUM.
  [[nodiscard]] double noise_stddev() const { return noise_multiplier * l2_norm_clip; }
};

/// Clips every row of `rows` in place to L2 norm ≤ clip (clip_l2) and returns the
/// pre-clip norms (length rows.rows()). Throws NonFiniteValueError if any entry is NaN/Inf
/// (checked for the whole matrix before any row is modified).
Eigen::VectorXd clip_rows_l2(Eigen::Ref<PerExampleGradients> rows, double clip);

/// Steps 2-4 of DP-SGD for one lot: per_example_grads is B×P (B sampled examples, may be
/// 0; P parameters). Returns (Σ_i clip_C(g_i) + N(0, σ²C² I_P)) / (q·N), length P.
/// Throws InvalidPrivacyParameter (bad config, P = 0) or NonFiniteValueError.
Eigen::VectorXf dp_sgd_noisy_gradient(const Eigen::Ref<const PerExampleGradients>& per_example_grads,
                                      const DpSgdConfig& config, NoiseSource& noise);

}  // namespace fedlora::privacy
