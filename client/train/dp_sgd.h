#pragma once
// Example-level DP-SGD for local LoRA training on a frozen quantized base (Abadi et al.
// 2016, "Deep Learning with Differential Privacy", Algorithm 1; Poisson lots as in §3.1 and
// Mironov, Talwar, Zhang 2019). One step:
//   1. lot: every training example joins independently with probability q
//      (privacy::poisson_sample; the lot may be empty, which still is a step);
//   2. one batched forward/backward pass with LoraModel's per-example sink gives the exact
//      gradient of every example's own loss L_i (dp_sgd_config.h) for every lora_A/lora_B;
//   3. every example's full gradient is clipped to L2 norm C, the clipped gradients are
//      summed, N(0, σ²C²) is added per coordinate, and the result is divided by the
//      EXPECTED lot size q·N (per_example_clip.h);
//   4. the optimizer (SGD or Adam, LocalTrainConfig::optimizer) steps on that privatized
//      gradient; a FedProx term μ(θ − θ_t), being data-independent, is added after the
//      noise (post-processing keeps the guarantee).
// T such steps are T compositions of the Poisson-subsampled Gaussian mechanism at (q, σ);
// the ledger-gated entry point that records them is train_local_private (private_round.h).
#include <memory>
#include <span>
#include <vector>

#include "client/train/dp_sgd_config.h"
#include "client/train/local_trainer.h"
#include "lora/model/lora_model.h"
#include "privacy/noise/noise_source.h"

namespace torch::optim {
class Optimizer;
}

namespace fedlora::client {

/// What one DP-SGD step did. Data-dependent, not privatized: diagnostics only.
struct DpStepStats {
  int64_t lot_size = 0;  ///< examples in the lot (0 for an empty lot)
  int64_t tokens = 0;    ///< target tokens in the lot
  double loss = 0.0;     ///< mean next-token loss (nats/token) over the lot's targets; 0 when empty
  int64_t clipped = 0;   ///< examples whose gradient norm exceeded C
};

/// One device's DP-SGD state for one round: a LoraModel over the shared base and an adapter
/// initialised to `global`, the optimizer, and the noise and sampling streams chosen by
/// config.dp->noise. Uses the calling thread only; not thread-safe.
class DpSgdTrainer {
 public:
  /// Keeps a reference to `examples`, which must outlive the trainer.
  /// Throws std::invalid_argument if config.dp is unset or invalid, or examples is empty;
  /// AdapterError if `global` does not match `layout`; privacy::CryptoError if the OS
  /// cannot provide entropy in production mode.
  DpSgdTrainer(std::shared_ptr<const lora::BaseModel> base, const lora::AdapterLayout& layout,
               std::span<const float> global, const std::vector<lora::TokenSeq>& examples,
               const LocalTrainConfig& config);
  ~DpSgdTrainer();
  DpSgdTrainer(const DpSgdTrainer&) = delete;
  DpSgdTrainer& operator=(const DpSgdTrainer&) = delete;

  const DpSgdPlan& plan() const { return plan_; }
  bool deterministic_noise() const { return noise_.deterministic(); }

  /// A Poisson lot: indices into examples, increasing, each included with probability q,
  /// drawn from the sampling stream.
  std::vector<size_t> sample_lot();

  /// Steps 2-4 on a given lot (indices into examples, may be empty or repeat nothing).
  /// Only lots drawn by sample_lot() are covered by the (q, σ) accounting; a caller-chosen
  /// lot is for tests and benchmarks. Throws TrainingDiverged on a non-finite loss or
  /// per-example gradient, std::invalid_argument on an index out of range.
  DpStepStats step(std::span<const size_t> lot);

  /// sample_lot() then step(): one accounted DP-SGD step.
  DpStepStats poisson_step();

  /// The privatized gradient (Σ clip(g_i) + noise) / (q·N) of the last step, float32 in
  /// layout order (length layout.size()); empty before the first step.
  const std::vector<float>& last_noisy_gradient() const { return noisy_; }
  /// Bytes the per-example gradients of the last non-empty lot took (b · P · 4, b the
  /// examples of one pass: the lot, or LocalTrainConfig::micro_batch_size).
  int64_t last_per_example_bytes() const { return per_example_bytes_; }

  /// The adapter now, flat in layout order.
  std::vector<float> adapter_flat() const { return adapter_.to_flat(); }

 private:
  DpSgdPlan plan_;
  PerExampleLoss loss_kind_;
  double fedprox_mu_;
  bool freeze_a_ = false;  // FFA-LoRA: lora_A is neither clipped, noised nor stepped
  const std::vector<lora::TokenSeq>& examples_;
  lora::LoraAdapter adapter_;
  lora::LoraModel model_;
  std::unique_ptr<torch::optim::Optimizer> opt_;
  std::vector<at::Tensor> theta0_;  // θ_t, only for FedProx
  privacy::NoiseSource noise_;
  privacy::NoiseSource sampling_;
  lora::PerExampleGrads sink_;
  std::vector<float> noisy_;
  int64_t per_example_bytes_ = 0;
  int64_t steps_done_ = 0;
  size_t micro_batch_ = 0;  // examples per pass; 0 = the whole lot

  // One forward/backward pass over lot examples; adds their clipped gradients to `sum`.
  void accumulate_clipped(std::span<const size_t> examples, std::vector<double>& sum, DpStepStats& st,
                          double& loss_sum);
};

/// Local training with example-level DP-SGD: plan.steps Poisson steps (plan_dp_sgd), then
/// Δ = θ_local − θ_global. This is the mechanism only; it does not consult a privacy
/// ledger (use train_local_private for that). train_local() calls it when config.dp is set.
/// LocalUpdate::dp reports (q, T, σ, C) and the realised counts; train_loss and the counts
/// are not privatized. Throws as DpSgdTrainer, and TrainingDiverged on a non-finite update.
LocalUpdate train_local_dp_sgd(std::shared_ptr<const lora::BaseModel> base, const lora::AdapterLayout& layout,
                               std::span<const float> global, const std::vector<lora::TokenSeq>& examples,
                               const LocalTrainConfig& config);

}  // namespace fedlora::client
