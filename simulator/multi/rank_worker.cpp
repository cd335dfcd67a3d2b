#include "simulator/multi/rank_worker.h"

#include <filesystem>
#include <optional>

#include "coordinator/protocol/payload.h"
#include "lora/model/runtime.h"
#include "privacy/ledger/privacy_ledger.h"
#include "simulator/multi/sharded_transport.h"
#include "simulator/run/sim_setup.h"

namespace fedlora::sim {
namespace fs = std::filesystem;

int run_rank_worker(const SimConfig& cfg, RankGroup& group, const ProgressFn& progress) {
  refuse_for_ranks(cfg, false);
  lora::keep_freed_memory_in_heap();
  const SimSetup setup = set_up_simulation(cfg, progress);
  WorkerPool pool(worker_threads(cfg));
  // This rank's devices keep their own ledger: a device always lives on the same rank.
  std::optional<privacy::PrivacyLedger> ledger;
  if (cfg.dp_sgd.enabled) {
    fs::path path = cfg.dp_sgd.ledger;
    if (path.empty()) {
      const fs::path dir = cfg.run.output_dir / cfg.run.name;
      fs::create_directories(dir);
      path = dir / ("privacy_ledger-rank" + std::to_string(group.rank()) + ".sqlite");
      for (const char* suffix : {"", "-wal", "-shm"}) fs::remove(path.string() + suffix);
    }
    ledger = privacy::PrivacyLedger::open(path);
  }
  const auto clock = make_fleet_clock(cfg, setup);
  VirtualFleet vf =
      make_virtual_fleet(cfg, setup, protocol::sha256_of_file(cfg.model.base), ledger ? &*ledger : nullptr, *clock);
  if (cfg.secagg.enabled) exchange_identities(group, vf.identities);
  if (progress) progress("rank " + std::to_string(group.rank()) + " of " + std::to_string(group.world_size()) +
                         ": hosting its devices of every round");
  const int served = serve_rounds(group, pool, vf);
  if (progress) progress("rank " + std::to_string(group.rank()) + ": " + std::to_string(served) + " rounds served");
  return served;
}

}  // namespace fedlora::sim
