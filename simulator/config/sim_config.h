#pragma once
// The simulator's run configuration (configs/*.toml): the federated job's sections, shared
// with the coordinator service (coordinator/config/job_config.h), plus [run] (seed, outputs,
// threads) and [data] (the per-user corpus the virtual fleet is built from). Every key has a
// default; the documented defaults live in configs/shakespeare.toml.
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "coordinator/config/job_config.h"
#include "simulator/config/fleet_section.h"
#include "lora/model/base_gemm.h"

namespace fedlora::sim {

using config::ConfigError;
using config::TomlReader;
using config::parse_weight_type;
using config::weight_type_name;

struct RunSection {
  uint64_t seed = 1;                     ///< every non-private random choice of the run derives from it
  std::string name = "run";              ///< output folder under output_dir
  std::filesystem::path output_dir = "runs";
  int threads = 0;                       ///< worker threads (one device each); 0 = one per core
  /// Research opt-in: DP noise and DP sampling from seeded streams, so a private run is
  /// reproducible. Such a run is NOT private (anyone with the seed can remove its noise): its
  /// outputs say "private": false and carry no ε.
  bool reproducible_noise = false;
};

enum class DataFormat { shakespeare, directory, jsonl, partition };

struct DataSection {
  DataFormat format = DataFormat::shakespeare;
  std::filesystem::path path = "${FEDLORA_DATA_DIR}/shakespeare/tinyshakespeare.txt";  ///< see lora/format/data_dir.h
  int min_examples = 2;     ///< users with fewer examples are dropped
  int train_percent = 80;   ///< first part of each user's examples for training
  int max_users = 0;        ///< population cap (seeded sample); 0 = everyone
  // format = "partition" only (client/data/dirichlet_partition.h, Hsu et al. 2019):
  int users = 0;               ///< synthetic users N drawn from the documents of path (>= 1)
  double alpha = 1.0;          ///< Dirichlet concentration α > 0 of each user's document mix
  int examples_per_user = 8;   ///< text chunks per user (>= 2), split by train_percent
  int chunk_bytes = 512;       ///< chunk size in bytes (>= 16)
  std::string prior = "size";  ///< Dirichlet prior over documents: size (∝ chunks) | uniform
};

/// server.mode = "fedbuff": buffered asynchronous FL (coordinator/strategy/fedbuff_buffer.h).
struct AsyncSection {
  std::string mode = "sync";  ///< "sync" (rounds) | "fedbuff"
  int concurrency = 32;       ///< C: devices training at once
  int buffer_size = 16;       ///< K: arrivals per server step
};

struct SimConfig : config::JobConfig {
  RunSection run;
  DataSection data;
  AsyncSection async;  ///< server.mode, server.concurrency, server.buffer_size
  FleetSection fleet;  ///< [fleet]: device classes, availability, round deadline (fleet_section.h)
  /// client.memory_budget_mb (device side, every virtual device): MB local training may use
  /// on top of runtime and base weights; the device picks micro-batch and checkpointing to
  /// fit (client/train/step_memory.h) and refuses tasks that cannot. 0 = no budget.
  double memory_budget_mb = 0.0;
  /// client.base_matmul (device side): "fp32" (default) or "int8" base products in local
  /// training (lora/model/base_gemm.h).
  lora::BaseGemm base_matmul = lora::BaseGemm::fp32;
  /// Where it was read from, so that child processes (--transport grpc workers) load the
  /// very same configuration.
  std::filesystem::path source_path;
  std::vector<std::string> source_overrides;  ///< --set assignments, then run.name

  /// True when user-level DP or DP-SGD is on (a run whose outputs carry an ε).
  bool dp_enabled() const { return user_dp.enabled || dp_sgd.enabled; }
  /// True when the run's ε may be reported: DP is on and its noise is not reproducible.
  bool private_run() const { return dp_enabled() && !run.reproducible_noise; }

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

}  // namespace fedlora::sim
