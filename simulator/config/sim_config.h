#pragma once
// The simulator's run configuration (configs/*.toml). Every key has a default; the
// documented defaults live in configs/shakespeare.toml.
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "client/train/local_trainer.h"
#include "coordinator/strategy/server_optimizer_config.h"
#include "lora/adapter/adapter_layout.h"
#include "lora/quant/ggml_type.h"
#include "simulator/config/toml_reader.h"

namespace fedlora::sim {

struct RunSection {
  uint64_t seed = 1;                     ///< every random choice of the run derives from it
  std::string name = "run";              ///< output folder under output_dir
  std::filesystem::path output_dir = "runs";
  int threads = 0;                       ///< worker threads (one device each); 0 = one per core
};

struct ModelSection {
  std::filesystem::path base = "models/base.gguf";
  lora::GgmlType quantize = lora::GgmlType::Q8_0;  ///< weight type the base is re-encoded to on load
};

struct LoraSection {
  int rank = 8;
  float alpha = 16.0f;
  std::vector<lora::TargetModule> target_modules =
      std::vector<lora::TargetModule>(std::begin(lora::kAllTargetModules), std::end(lora::kAllTargetModules));
};

enum class DataFormat { shakespeare, directory, jsonl };

struct DataSection {
  DataFormat format = DataFormat::shakespeare;
  std::filesystem::path path = "../shared/data/shakespeare/tinyshakespeare.txt";
  int min_examples = 2;     ///< users with fewer examples are dropped
  int train_percent = 80;   ///< first part of each user's examples for training
  int max_users = 0;        ///< population cap (seeded sample); 0 = everyone
};

enum class Weighting { examples, uniform };

struct FederationSection {
  int rounds = 50;
  int cohort_size = 16;     ///< K
  int min_contributors = 1; ///< fewer surviving updates abort the round
  int eval_every = 10;      ///< evaluate the global adapter every N rounds (and after the last)
  int eval_users = 48;      ///< fixed, seeded sample of users whose held-out data is evaluated
  double dropout_rate = 0.0;///< chance a selected device drops out before uploading
};

struct ServerSection {
  coordinator::ServerOptimizerConfig optimizer;  ///< strategy name, server_lr, momentum, beta1, beta2, tau
  Weighting weighting = Weighting::examples;
};

/// [user_dp]: user-level DP-FedAvg (McMahan et al. 2018) with optional adaptive clipping
/// (Andrew et al. 2021). Turning it on switches the cohort to Poisson sampling with
/// q = cohort_size / population and the average to uniform weights over the expected K.
struct UserDpSection {
  bool enabled = false;
  std::string mode = "central";     ///< central | distributed (distributed: noise added on devices)
  double noise_multiplier = 1.0;    ///< z
  double l2_norm_clip = 0.5;        ///< S (initial clip with adaptive clipping)
  bool adaptive_clipping = false;
  double target_quantile = 0.5;
  double clip_learning_rate = 0.2;
  double count_noise_stddev = 0.0;  ///< σ_b; 0 = max(K/20, z)
  double delta = 0.0;               ///< 0 = 1 / population^1.1
};

/// [dp_sgd]: example-level DP-SGD on every device (Abadi et al. 2016), gated by a per-device
/// privacy ledger that refuses rounds beyond the (ε, δ) budget.
struct DpSgdSection {
  bool enabled = false;
  double noise_multiplier = 1.0;      ///< σ
  double l2_norm_clip = 1.0;          ///< C, per-example gradient bound
  double sampling_rate = 0.0;         ///< q; 0 = client.batch_size / N (expected lot = batch_size)
  int steps = 0;                      ///< T per round; 0 = ceil(client.epochs / q)
  std::string per_example_loss = "token_mean";  ///< token_mean | token_sum
  double epsilon = 8.0;               ///< each device's example-level budget ε
  double delta = 1e-5;                ///< its δ
  std::string ledger;                 ///< ledger file; "" = a fresh one in the run folder
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
};

struct SimConfig {
  RunSection run;
  ModelSection model;
  LoraSection lora;
  DataSection data;
  FederationSection federation;
  client::LocalTrainConfig client;  ///< [client]: epochs, batch_size, lr, optimizer, max_steps, fedprox_mu
  ServerSection server;
  DpSgdSection dp_sgd;
  UserDpSection user_dp;
  SecAggSection secagg;

  /// Throws ConfigError naming the first invalid value.
  void validate() const;
};

/// Reads `path`, applies the `--set` overrides in order, then `name_override` if non-empty.
/// Throws ConfigError (unknown key, wrong type, invalid value, unreadable file).
SimConfig load_sim_config(const std::filesystem::path& path, const std::vector<std::string>& overrides,
                          const std::string& name_override = "");

/// The configuration as a JSON-ready flat list of "section.key" = value strings, for
/// summary.json (what was actually run, after overrides).
std::vector<std::pair<std::string, std::string>> describe(const SimConfig& config);

/// "f32", "f16", "q8_0", "q4_0" ↔ GgmlType. Throws ConfigError for other names.
lora::GgmlType parse_weight_type(const std::string& name);
std::string weight_type_name(lora::GgmlType type);

}  // namespace fedlora::sim
