#pragma once
// Local training on a device: start from the global adapter θ_t, train the LoRA tensors on
// the user's examples, return the client update Δ = θ_local − θ_t (McMahan et al. 2017,
// Algorithm 1 "ClientUpdate"). The frozen base is shared and never changes.
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "client/train/dp_sgd_config.h"
#include "lora/adapter/adapter_layout.h"
#include "lora/model/base_gemm.h"
#include "lora/model/base_model.h"
#include "lora/model/lm_batch.h"

namespace fedlora::lora {
class LoraAdapter;
}

namespace fedlora::client {

enum class LocalOptimizer { sgd, adam };
/// "sgd" or "adam"; throws std::invalid_argument naming the accepted values.
LocalOptimizer parse_local_optimizer(const std::string& name);

struct LocalTrainConfig {
  int epochs = 1;             ///< passes E over the user's train examples
  int batch_size = 8;         ///< examples B per step
  double lr = 1e-3;           ///< client learning rate
  LocalOptimizer optimizer = LocalOptimizer::adam;
  int max_steps = 0;          ///< cap on optimizer steps per round; 0 = no cap
  double fedprox_mu = 0.0;    ///< FedProx proximal weight μ (Li et al. 2020, eq. 2); 0 = FedAvg
  uint64_t seed = 0;          ///< shuffling; derive per (run seed, round, client)
  /// Memory-only settings (step_memory.h), which leave the update unchanged up to float
  /// rounding: examples per forward/backward pass, gradients accumulated over a batch's
  /// micro-batches before the step (0 = the whole batch in one pass), and activation
  /// checkpointing per decoder block.
  int micro_batch_size = 0;
  bool activation_checkpointing = false;
  /// How the frozen base's products are computed (lora/model/base_gemm.h): fp32, or int8
  /// (SwitchBack-style, faster where the CPU has int8 dot products; not bit-identical).
  lora::BaseGemm base_gemm = lora::BaseGemm::fp32;
  /// FFA-LoRA (Sun et al., ICLR 2024): lora_A is not trained (no gradient, no optimizer
  /// state), so Δ is exactly 0 on every lora_A entry.
  bool freeze_a = false;
  /// Example-level DP-SGD (dp_sgd.h). When set, training uses Poisson lots of rate q for
  /// T steps instead of shuffled batches: batch_size only derives q when dp->sampling_rate
  /// is 0, epochs only derives T when dp->steps is 0, max_steps caps T, and `seed` is unused
  /// (randomness comes from dp->noise). Unset = plain (non-private) training.
  std::optional<DpSgdTrainConfig> dp;
  /// Throws std::invalid_argument naming the first bad field.
  void validate() const;
};

struct LocalUpdate {
  std::vector<float> delta;   ///< Δ = θ_local − θ_global, float32 [layout.size()]
  int64_t num_examples = 0;   ///< train examples (windows) the update was computed on
  int64_t steps = 0;          ///< optimizer steps taken
  int64_t tokens = 0;         ///< target tokens processed, summed over steps
  double train_loss = 0.0;    ///< mean next-token loss (nats/token) over the steps
  std::optional<DpSgdReport> dp;  ///< set when trained with DP-SGD: (q, T, σ, C) and realised counts
};

/// Thrown when local training diverges (non-finite loss or update): the update must not be sent.
/// The adapter tensors the local optimizer updates: all of them, or only the lora_B ones with
/// `freeze_a` (FFA-LoRA).
std::vector<at::Tensor> trained_tensors(const lora::LoraAdapter& adapter, bool freeze_a);

struct TrainingDiverged : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// Trains the adapter (layout, starting at `global`) on `examples` for E epochs of shuffled
/// batches of B, with the chosen optimizer, stopping early at max_steps. The loss is the mean
/// next-token cross-entropy over the batch's target tokens. Uses the calling thread only.
/// With config.dp set it runs example-level DP-SGD instead (train_local_dp_sgd, dp_sgd.h;
/// the mechanism only, no privacy ledger: see train_local_private in private_round.h).
/// Throws std::invalid_argument on a bad config or empty examples, AdapterError on a
/// size mismatch, TrainingDiverged on a non-finite loss or update.
LocalUpdate train_local(std::shared_ptr<const lora::BaseModel> base, const lora::AdapterLayout& layout,
                        std::span<const float> global, const std::vector<lora::TokenSeq>& examples,
                        const LocalTrainConfig& config);

/// Next-token metrics summed over examples.
struct EvalMetrics {
  double loss_sum = 0.0;  ///< Σ −log p(target), nats
  int64_t n_targets = 0;
  int64_t correct = 0;    ///< targets where the argmax prediction is right
  double loss() const { return n_targets ? loss_sum / static_cast<double>(n_targets) : 0.0; }
  double accuracy() const { return n_targets ? static_cast<double>(correct) / static_cast<double>(n_targets) : 0.0; }
  double perplexity() const;
  EvalMetrics& operator+=(const EvalMetrics& o);
};

/// Next-token accuracy and loss of base + adapter on `examples` (no gradients).
EvalMetrics evaluate_adapter(std::shared_ptr<const lora::BaseModel> base, const lora::AdapterLayout& layout,
                             std::span<const float> adapter, const std::vector<lora::TokenSeq>& examples,
                             int batch_size = 16);

/// A permutation of [0, n) from a SplitMix64 stream (Fisher–Yates with Lemire's bounded
/// integers), identical on every platform for the same seed.
std::vector<size_t> seeded_permutation(size_t n, uint64_t seed);

}  // namespace fedlora::client
