#pragma once
// server.mode = "fedbuff": buffered asynchronous FL (Nguyen et al., AISTATS 2022) on the
// simulated clock. Devices start as they become eligible, at most server.concurrency at
// once, each from the θ version current when it starts; the server applies an update
// every server.buffer_size arrivals, each Δ weighted by 1/√(1+staleness)
// (coordinator/strategy/fedbuff_buffer.h). A device whose eligible session ends before it
// uploads is lost (its work is counted as waste). federation.rounds counts server steps.
//
// The clock needs each device's finishing time before it trains, so it times the work the
// device will do: local_examples(n, E, B, max_steps) windows of its mean length (exact when
// its windows have equal length, as all but a user's last do). Training itself still runs
// for real, deferred until the buffer that receives it fills, on the worker pool.
#include "simulator/config/sim_config.h"
#include "simulator/run/simulation.h"

namespace fedlora::sim {

/// Runs the job; metrics.jsonl has one line per server step ("round" = θ version) with
/// sim_time_s, staleness and the evaluation every federation.eval_every steps. Throws
/// ResumeError if options.resume (its in-flight state is not checkpointed), ConfigError if
/// the mode is not fedbuff or no device is ever eligible, and the set-up's errors.
SimulationSummary run_fedbuff(const SimConfig& cfg, const ProgressFn& progress, const RunOptions& options);

}  // namespace fedlora::sim
