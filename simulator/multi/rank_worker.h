#pragma once
// A rank other than 0 of a multi-process simulation.
#include "simulator/config/sim_config.h"
#include "simulator/multi/rank_group.h"
#include "simulator/run/simulation.h"

namespace fedlora::sim {

/// Rank ≥ 1 of `fedlora-sim run CONFIG --world-size N --rank R --master HOST:PORT`: sets up
/// the base, the fleet and the devices' shared state exactly as rank 0 does (same config,
/// same seed), then hosts its members of every round (sharded_transport.h) until rank 0
/// ends the run. It writes nothing but its devices' DP-SGD ledger (run folder,
/// privacy_ledger-rank<R>.sqlite, unless dp_sgd.ledger names one). Returns the rounds
/// served. Throws RankError (rank 0 failed or stopped answering), ConfigError, and the
/// loaders' errors.
int run_rank_worker(const SimConfig& cfg, RankGroup& group, const ProgressFn& progress);

}  // namespace fedlora::sim
