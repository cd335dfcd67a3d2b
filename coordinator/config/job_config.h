#pragma once
// The federated job: what is trained and how a round runs. Shared by the simulator
// (configs/*.toml run files) and the coordinator service (`fedlora-coordinator serve`), so a
// job tried in simulation is deployed with the same sections: [model], [lora], [federation],
// [client], [server], [dp_sgd], [user_dp], [secagg]. Torch-free. Every key has a default;
// the documented defaults live in configs/shakespeare.toml.
#include <cstdint>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "coordinator/config/toml_reader.h"
#include "coordinator/protocol/round_instructions.h"
#include "coordinator/strategy/server_optimizer_config.h"
#include "lora/adapter/adapter_layout.h"
#include "lora/quant/ggml_type.h"

namespace fedlora::config {

struct ModelSection {
  std::filesystem::path base = "models/base.gguf";
  lora::GgmlType quantize = lora::GgmlType::Q8_0;  ///< weight type the base is re-encoded to on load
};

struct LoraSection {
  int rank = 8;
  float alpha = 16.0f;
  std::vector<lora::TargetModule> target_modules =
      std::vector<lora::TargetModule>(std::begin(lora::kAllTargetModules), std::end(lora::kAllTargetModules));
  /// FFA-LoRA (Sun et al., ICLR 2024): lora_A stays at its seeded initialisation; only lora_B
  /// is trained and sent, so averaging is exact and an upload is d_B instead of d floats.
  bool freeze_a = false;
};

struct FederationSection {
  int rounds = 60;
  int cohort_size = 16;      ///< K
  int min_contributors = 1;  ///< fewer surviving updates abort the round
  // Simulator only (read by the simulator's loader):
  int eval_every = 10;        ///< evaluate the global adapter every N rounds (and after the last)
  int eval_users = 48;        ///< fixed, seeded sample of users whose held-out data is evaluated
  int eval_next_words = 200;  ///< word starts scored for next-word recall per evaluation (0 = off)
  double dropout_rate = 0.0;  ///< chance a selected device drops out before a protocol stage
  /// "federated" | "centralized": the pooled-data baseline (simulator/run/centralized_run.h).
  std::string mode = "federated";
  /// Local fine-tuning steps per evaluation user after the last round; 0 = off
  /// (simulator/run/personalization.h).
  int personalize_steps = 0;
  /// Select ⌈K · over_selection⌉ devices and close the round at K reports (Bonawitz et al.
  /// 2019 §2.2); stragglers are dropped. The service reads serve.over_selection instead.
  double over_selection = 1.0;
};

enum class UpdateWeighting { examples, uniform };

struct ServerSection {
  coordinator::ServerOptimizerConfig optimizer;  ///< strategy name, server_lr, momentum, beta1, beta2, tau
  UpdateWeighting weighting = UpdateWeighting::examples;
};

/// [dp_sgd]: example-level DP-SGD on every device (Abadi et al. 2016). The mechanism's
/// settings travel in the round instructions; the budget (ε, δ) and the ledger belong to the
/// device (simulator: one budget for every virtual device).
struct DpSgdSection {
  bool enabled = false;
  double noise_multiplier = 1.0;      ///< σ
  double l2_norm_clip = 1.0;          ///< C, per-example gradient bound
  double sampling_rate = 0.0;         ///< q; 0 = client.batch_size / N
  int steps = 0;                      ///< T per round; 0 = ceil(client.epochs / q)
  std::string per_example_loss = "token_mean";  ///< token_mean | token_sum
  // Device side (simulator: every virtual device):
  double epsilon = 8.0;               ///< each device's example-level budget ε
  double delta = 1e-5;                ///< its δ
  std::string ledger;                 ///< ledger file; "" = a fresh one in the run folder
};

/// [user_dp]: user-level DP-FedAvg (McMahan et al. 2018) with optional adaptive clipping
/// (Andrew et al. 2021). Turning it on switches the cohort to Poisson sampling with
/// q = cohort_size / population and the average to uniform weights over the expected K.
struct UserDpSection {
  bool enabled = false;
  std::string mechanism = "dp_fedavg"; ///< dp_fedavg (Poisson cohorts) | dp_ftrl (tree aggregation, no sampling)
  std::string mode = "central";     ///< central | distributed (distributed: noise added on devices)
  double noise_multiplier = 1.0;    ///< z
  double l2_norm_clip = 0.5;        ///< S (initial clip with adaptive clipping)
  bool adaptive_clipping = false;
  double target_quantile = 0.5;
  double clip_learning_rate = 0.2;
  double count_noise_stddev = 0.0;  ///< σ_b; 0 = max(K/20, z)
  double delta = 0.0;               ///< 0 = 1 / population^1.1
  int min_survivors = 0;            ///< distributed: DP survivor floor m_min (0 = t + a_max)
  int max_participations = 0;       ///< cap on any user's participations (bounds ε against the coordinator); 0 = none
  int restart_every = 0;            ///< dp_ftrl: rounds per tree, each user at most once per tree; 0 = ⌊N/K⌋
};

/// [secagg]: aggregate through SecAgg/SecAgg+ (Bonawitz et al. 2017; Bell et al. 2020).
struct SecAggSection {
  bool enabled = false;
  std::string graph = "auto";       ///< auto | complete | harary
  int degree = 0;                   ///< k; 0 = chosen from n and the threat model
  int threshold = 0;                ///< t; 0 = chosen from n and the threat model
  double corrupt_fraction = 0.05;   ///< clients assumed to collude with the server (parameter choice)
  double dropout_fraction = 0.1;    ///< dropouts the parameters must tolerate
  double clip_range = 0.0;          ///< fixed-point clip c; 0 = derived from the DP settings, else 8
  int bits = 20;                    ///< fixed-point bits b per value
  int word_bits = 32;               ///< modulus 2^w (32 or 64)
  bool consistency_check = false;   ///< extra round for the malicious-server setting
  /// log2 of the scrypt cost of the Harary graph seed (grinding resistance, secure-agg
  /// README "Graph seed"); devices refuse rounds below their policy's floor (14 by default).
  int graph_seed_work = 14;
};

struct JobConfig {
  ModelSection model;
  LoraSection lora;
  FederationSection federation;
  /// The main job's local training (configs/shakespeare.toml): E = 2, B = 8, Adam at 0.002.
  protocol::TrainInstructions client{.epochs = 2, .batch_size = 8, .lr = 0.002, .max_steps = 32};  ///< [client]: epochs, batch_size, lr, optimizer, max_steps, fedprox_mu
  ServerSection server;
  DpSgdSection dp_sgd;
  UserDpSection user_dp;
  SecAggSection secagg;

  /// Throws ConfigError naming the first invalid value of the shared sections.
  void validate() const;
};

/// Reads the shared sections' keys from `r` into `job` (keys absent keep their defaults).
/// Simulator-only keys (federation.eval_*, dropout_rate, mode, personalize_steps, dp_sgd.epsilon/delta/
/// ledger) are left to the simulator's loader. Throws ConfigError.
void read_job_sections(TomlReader& r, JobConfig& job);

/// The shared sections as "section.key" = value strings (summary.json, logs).
std::vector<std::pair<std::string, std::string>> describe_job(const JobConfig& job);

/// The shared sections as a TOML document that read_job_sections reads back to the same
/// JobConfig (simulator-only keys left out), e.g. to start a coordinator for a simulated job.
std::string write_job_toml(const JobConfig& job);

/// "f32", "f16", "q8_0", "q4_0" ↔ GgmlType. Throws ConfigError for other names.
lora::GgmlType parse_weight_type(const std::string& name);
std::string weight_type_name(lora::GgmlType type);

/// A number as the configs print it (10 significant digits).
std::string format_number(double v);

}  // namespace fedlora::config
