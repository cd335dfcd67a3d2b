#pragma once
// `fedlora-coordinator serve --config FILE`: the job's sections (shared with the simulator,
// coordinator/config/job_config.h) plus [serve], how the service runs. Every key has a
// default and a comment in configs/coordinator.toml.
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "coordinator/config/job_config.h"

namespace fedlora::coordinator {

struct ServeSection {
  std::string listen = "127.0.0.1:50051";       ///< host:port
  std::filesystem::path tls_cert;               ///< server certificate (PEM); required unless --insecure
  std::filesystem::path tls_key;                ///< its private key (PEM)
  std::filesystem::path client_ca;             ///< CA of device certificates: mTLS, the subject CN is the device id
  std::filesystem::path tokens_file;           ///< "device_id token" lines: bearer-token devices
  std::filesystem::path state_dir = "coordinator-state";  ///< SQLite store, checkpoints, metrics.jsonl
  double over_selection = 1.3;                  ///< select ⌈K·this⌉ devices, close at K reports
  int min_devices = 0;                          ///< checked-in devices before a round opens; 0 = ⌈K·over_selection⌉
  std::int64_t population = 0;                  ///< N for Poisson cohorts (user-level DP); 0 = enrolled devices
  int checkin_retry_ms = 1000;                  ///< retry window given to devices not (yet) selected
  int available_ttl_ms = 15000;                 ///< a device counts as available this long after a check-in
  int train_deadline_ms = 600000;               ///< task hand-out to upload / AdvertiseKeys
  int stage_deadline_ms = 60000;                ///< each later SecAgg stage
  int round_pause_ms = 0;                       ///< wait between a round's end and the next selection
  int keep_checkpoints = 2;                     ///< round checkpoints kept (the newest ones)
  std::uint64_t seed = 1;                       ///< local batch orders (not privacy randomness)
  /// Research opt-in, as run.reproducible_noise in the simulator: central noise and Poisson
  /// cohorts from the seed. Such a job is NOT private and reports no ε.
  bool reproducible_noise = false;
};

struct ServeConfig : config::JobConfig {
  ServeSection serve;
  /// Throws config::ConfigError naming the first invalid value.
  void validate() const;
};

/// Reads [serve] and the job sections; `overrides` are `section.key=value`. Throws
/// config::ConfigError (unknown key, wrong type, invalid value, unreadable file).
ServeConfig load_serve_config(const std::filesystem::path& path, const std::vector<std::string>& overrides);

}  // namespace fedlora::coordinator
