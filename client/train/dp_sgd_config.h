#pragma once
// Configuration and per-round plan of example-level DP-SGD on a device (Abadi et al. 2016,
// "Deep Learning with Differential Privacy", Algorithm 1, with Poisson-sampled lots as in
// §3.1 and Mironov, Talwar, Zhang 2019). Torch-free, so configs and simulator code can use
// it without LibTorch.
//
// Per-example loss. The quantity clipped to C is the gradient of ONE example's loss L_i.
// Default (token_mean): L_i = (1/n_i) Σ_t ℓ_{i,t}, the mean next-token cross-entropy over the
// n_i target tokens of example i. This keeps ‖∇L_i‖ on the same scale for short and long
// windows, so one C suits a device whose last window is short, and matches what Opacus
// clips for a sequence model trained with a per-sequence mean loss. token_sum
// (L_i = Σ_t ℓ_{i,t}) is offered for long-window users who want every token to weigh the
// same. Either way the sensitivity of the clipped sum is C (add/remove one example), and
// the noise added to the sum is N(0, σ²C²) per coordinate.
//
// Public quantities. The plan uses the device's example count N (for q = B/N and the q·N
// divisor), treated as public as TF Privacy and Opacus do. Set sampling_rate explicitly
// to make q independent of N.
#include <cstdint>
#include <string>
#include <variant>

namespace fedlora::client {

/// Which per-example loss L_i the clipped gradient belongs to (see the file comment).
enum class PerExampleLoss {
  token_mean,  ///< L_i = (1/n_i) Σ_t ℓ_{i,t}  (default)
  token_sum,   ///< L_i = Σ_t ℓ_{i,t}
};
/// "token_mean" or "token_sum"; throws std::invalid_argument naming the accepted values.
PerExampleLoss parse_per_example_loss(const std::string& name);
std::string per_example_loss_name(PerExampleLoss loss);

/// PRODUCTION noise: the Gaussian noise and the Poisson lots each come from their own
/// privacy::NoiseSource::from_os_entropy() stream (AES-256-CTR keyed from the OS pool).
/// Nobody, the device owner included, can reproduce them: use this on real devices.
struct ProductionNoise {};

/// SIMULATION noise: reproducible streams
///   noise:    NoiseSource::from_seed(run_seed, {device, round, noise_stream::kDpSgdNoise})
///   sampling: NoiseSource::from_seed(run_seed, {device, round, noise_stream::kExampleSampling})
/// so a simulated run is repeatable from its seed and no two devices/rounds share a stream.
/// Anyone who knows run_seed can subtract the noise: never use it in a deployment.
struct SimulationNoise {
  uint64_t run_seed = 0;
  uint64_t device = 0;  ///< device index in the population
  uint64_t round = 0;   ///< federated round number
};

/// Where a device's DP randomness comes from; one of the two, never a silent default seed.
using DpNoiseMode = std::variant<ProductionNoise, SimulationNoise>;

/// Example-level DP-SGD settings of local training (LocalTrainConfig::dp).
struct DpSgdTrainConfig {
  double l2_norm_clip = 1.0;      ///< C > 0: L2 bound on one example's gradient (all LoRA tensors together)
  double noise_multiplier = 1.0;  ///< σ ≥ 0: noise std on the summed clipped gradients is σ·C
  /// q ∈ (0, 1]: each example joins a step's lot independently with probability q.
  /// 0 = derive q = min(1, batch_size / N), i.e. an expected lot of LocalTrainConfig::batch_size.
  double sampling_rate = 0.0;
  /// T ≥ 1: optimizer steps per round. 0 = ⌈epochs / q⌉ (epochs expected passes over the
  /// data). LocalTrainConfig::max_steps, when > 0, caps T (the capped T is what is accounted).
  int64_t steps = 0;
  PerExampleLoss per_example_loss = PerExampleLoss::token_mean;
  DpNoiseMode noise = ProductionNoise{};

  /// Throws std::invalid_argument naming the first bad field ("client config: dp.<field> ...").
  void validate() const;
};

/// What one round of DP-SGD on one device will do: the parameters the privacy ledger and
/// accountant record (T steps of the Poisson-subsampled Gaussian mechanism at (q, σ)).
struct DpSgdPlan {
  int64_t dataset_size = 0;       ///< N, the device's training examples
  double sampling_rate = 0.0;     ///< q
  int64_t steps = 0;              ///< T
  double noise_multiplier = 0.0;  ///< σ
  double l2_norm_clip = 0.0;      ///< C
  /// q·N, the divisor of the summed noisy gradient (never the realised lot size).
  double expected_batch_size() const { return sampling_rate * static_cast<double>(dataset_size); }
};

/// Derives q and T for a device with `dataset_size` examples (see DpSgdTrainConfig).
/// Throws std::invalid_argument on a bad config, dataset_size < 1, or T > 10^9.
DpSgdPlan plan_dp_sgd(const DpSgdTrainConfig& dp, int epochs, int batch_size, int max_steps, int64_t dataset_size);

/// What a DP-SGD round did, returned in LocalUpdate::dp. The realised counts below are
/// data-dependent diagnostics for simulation reports: they are NOT privatized and must not
/// leave a real device.
struct DpSgdReport {
  DpSgdPlan plan;
  int64_t sampled_examples = 0;   ///< Σ over steps of the realised lot size
  int64_t empty_steps = 0;        ///< steps whose lot was empty (noise only)
  int64_t clipped_examples = 0;   ///< per-example gradients whose norm exceeded C
  bool deterministic_noise = false;  ///< true for SimulationNoise
};

}  // namespace fedlora::client
