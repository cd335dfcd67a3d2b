#pragma once
// `fedlora-sim run CONFIG --transport grpc`: the configured job through a real
// fedlora-coordinator child process and device worker processes (fedlora-sim worker) on
// 127.0.0.1, each virtual device with its own channel and token. The simulator only starts
// them, evaluates committed adapters and writes the same reports as the in-process
// transport. For the same seed the cohorts, local training and (with SecAgg) the sums are
// those of the in-process run; plain sums differ only by float64 summation order.
#include <filesystem>

#include "simulator/config/sim_config.h"
#include "simulator/run/simulation.h"

namespace fedlora::sim {

/// `bin_dir` holds fedlora-coordinator and fedlora-sim. Throws std::runtime_error if a child
/// process fails (the message names its log file).
SimulationSummary run_simulation_grpc(const SimConfig& config, const ProgressFn& progress,
                                      const std::filesystem::path& bin_dir);

}  // namespace fedlora::sim
