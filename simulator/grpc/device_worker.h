#pragma once
// `fedlora-sim worker`: a process that hosts virtual devices [begin, end) of a simulated
// fleet against a real coordinator over gRPC. Each device has its own channel, bearer token
// and DeviceRuntime thread, exactly as a phone would run fedlora-client; the worker lets one
// device train at a time (one BLAS thread), so W workers use W cores.
#include <cstddef>
#include <filesystem>
#include <string>

#include "simulator/config/sim_config.h"

namespace fedlora::sim {

struct WorkerOptions {
  std::size_t begin = 0, end = 0;       ///< device indices hosted
  std::string coordinator;              ///< host:port (plaintext loopback)
  std::filesystem::path tokens_file;    ///< "device-<i> <token>" lines, as the coordinator's
  std::filesystem::path report;         ///< JSONL: one line per participation
  std::filesystem::path state_dir;      ///< per-worker device state (DP-SGD ledger)
};

/// The virtual device id of fleet index i ("device-<i>").
std::string virtual_device_id(std::size_t index);

/// Runs until every hosted device has heard that the job is finished (or SIGTERM).
/// Returns the process exit code.
int run_device_worker(const SimConfig& cfg, const WorkerOptions& options);

}  // namespace fedlora::sim
