#pragma once
// Personalisation by local fine-tuning (Wang et al. 2019 "Federated evaluation of on-device
// personalization"; Yu et al. 2020 "Salvaging federated learning by local adaptation"):
// after the last round, every evaluation user fine-tunes the final global adapter on its own
// training split and is evaluated on its own held-out split before and after.
#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "client/train/local_trainer.h"
#include "lora/adapter/adapter_layout.h"
#include "lora/model/base_model.h"
#include "simulator/fleet/fleet.h"
#include "simulator/fleet/worker_pool.h"
#include "simulator/run/sim_setup.h"

namespace fedlora::sim {

/// 25th, 50th and 75th percentiles.
struct Quartiles {
  double q25 = 0.0, median = 0.0, q75 = 0.0;
};

/// Quartiles of `values` by linear interpolation between order statistics (Hyndman & Fan
/// 1996 type 7, numpy's default): the p-quantile of sorted x[0..n-1] is x[h] + (h − ⌊h⌋)
/// (x[⌊h⌋+1] − x[⌊h⌋]) at h = p(n − 1). Throws std::invalid_argument if `values` is empty
/// or holds a NaN.
Quartiles quartiles(std::vector<double> values);

/// One evaluation user: test-split metrics of the global adapter and of its fine-tuned copy.
struct UserPersonalization {
  std::size_t device = 0;     ///< index in Fleet::devices
  std::string user_id;
  std::int64_t train_examples = 0;  ///< training windows fine-tuned on
  std::int64_t steps = 0;           ///< optimizer steps taken (0: the user has no training window)
  double train_loss = 0.0;          ///< mean loss over those steps, nats/token
  client::EvalMetrics before, after;
};

struct PersonalizationReport {
  int steps = 0;                          ///< N asked for
  std::vector<UserPersonalization> users; ///< in Fleet::eval_devices order
  int improved = 0;                       ///< users whose test loss went down
  Quartiles loss_change;                  ///< per user after − before, nats/token (negative = better)
  Quartiles accuracy_change;              ///< per user after − before, next-token accuracy
  client::EvalMetrics pooled_before, pooled_after;  ///< summed over the users, as evaluate_global does
  double wall_s = 0.0;
};

/// Fine-tunes base + θ (float32 [layout.size()]) for exactly `steps` optimizer steps on each
/// evaluation user's training windows, with `train` (the [client] settings; epochs are raised
/// where a user's data gives fewer than `steps` batches, max_steps is set to `steps`, the
/// shuffle seed is derived from `seed` and the user's device index), then evaluates both
/// adapters on the user's test windows. One user per pool worker; every user's result lands
/// in its own slot, so the report does not depend on scheduling or the thread count.
/// Plain training: the fine-tuned adapter never leaves the device, so no DP-SGD here.
/// Throws std::invalid_argument (steps < 1, no evaluation users, bad `train`) and
/// client::TrainingDiverged (naming the user).
PersonalizationReport personalize(WorkerPool& pool, const std::shared_ptr<const lora::BaseModel>& base,
                                  const lora::AdapterLayout& layout, std::span<const float> theta, const Fleet& fleet,
                                  client::LocalTrainConfig train, int steps, std::uint64_t seed);

/// {"steps", "users", "improved", "loss_change": {q25, median, q75}, "accuracy_change": {...},
/// "pooled": {"before"|"after": {accuracy, loss, perplexity, tokens}}, "wall_s"} and, with
/// `per_user`, "per_user": [{"user", "device", "train_examples", "steps", "train_loss",
/// "before"|"after": {accuracy, loss, tokens}}].
nlohmann::json personalization_json(const PersonalizationReport& report, bool per_user);

/// One line for the terminal: users improved and the median [quartiles] changes.
std::string personalization_line(const PersonalizationReport& report);

/// The run's personalisation step: if federation.personalize_steps > 0, runs `personalize`
/// on θ with the [client] settings and a seed derived from run.seed, writes
/// <run_dir>/personalization.json (with the per-user list), prints the one-line summary and
/// returns personalization_json without the list; returns null when off.
nlohmann::json run_personalization(const SimConfig& cfg, const SimSetup& setup, WorkerPool& pool,
                                   std::span<const float> theta, const std::filesystem::path& run_dir,
                                   const ProgressFn& progress);

}  // namespace fedlora::sim
