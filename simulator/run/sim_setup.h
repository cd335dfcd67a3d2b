#pragma once
// What every simulated run sets up first, whichever transport carries its rounds: the base
// (loaded once, shared read-only), its tokenizer, the virtual fleet, the worker pool, the
// adapter layout and θ_0; and the reports it writes at the end (summary.json, adapter/).
#include <cstdint>
#include <memory>

#include "client/train/local_trainer.h"
#include "lora/adapter/adapter_layout.h"
#include "lora/model/base_model.h"
#include "lora/tokenizer/text_codec.h"
#include "simulator/config/sim_config.h"
#include "simulator/fleet/fleet.h"
#include "simulator/fleet/worker_pool.h"
#include "simulator/run/device_timing.h"
#include "simulator/run/evaluation.h"
#include "simulator/run/inproc_transport.h"
#include "simulator/run/simulation.h"

namespace fedlora::sim {

struct SimSetup {
  std::shared_ptr<const lora::BaseModel> base;
  std::unique_ptr<lora::TextCodec> tokenizer;  ///< the base's (SentencePiece or byte-level BPE), with word roles
  std::unique_ptr<Fleet> fleet;
  std::unique_ptr<lora::AdapterLayout> layout;
  std::vector<float> theta0;  ///< float32 [layout.size()], seeded from run.seed
};

/// Loads the base and tokenizer, builds the fleet, the adapter layout and θ_0, printing
/// progress lines. Throws the loaders' errors (naming the file) and ConfigError.
SimSetup set_up_simulation(const SimConfig& cfg, const ProgressFn& say);

/// The simulated clock of the run's fleet: device classes, availability and the timer, with
/// θ downloads, plain uploads and (SecAgg) masked inputs sized for this adapter. Throws
/// config::ConfigError for an invalid [fleet] or trace.
std::unique_ptr<FleetClock> make_fleet_clock(const SimConfig& cfg, const SimSetup& setup);

/// What every virtual device of the run shares: the base and its hash, the DP-SGD `ledger`
/// (nullptr without DP-SGD) and budget, research randomness (non-private runs), SecAgg
/// identities and policy, memory budget, base products, and the classes of `clock`.
VirtualFleet make_virtual_fleet(const SimConfig& cfg, const SimSetup& setup, const protocol::Sha256Digest& base_sha256,
                                privacy::PrivacyLedger* ledger, const FleetClock& clock);

/// What evaluate_global needs for next-word recall in this run.
EvalOptions eval_options(const SimConfig& cfg, const SimSetup& setup);

/// Worker threads of the run: run.threads, or one per core.
int worker_threads(const SimConfig& cfg);

/// Plain (non-private) local training with the [client] settings (epochs, batch_size, lr,
/// optimizer, max_steps, fedprox_mu) and client.base_matmul, shuffled by `seed`; for the
/// trainers the simulator runs itself (centralized baseline, personalisation), not devices.
client::LocalTrainConfig client_train_config(const SimConfig& cfg, std::uint64_t seed);

/// Writes adapter/ (PEFT) and summary.json for a finished run; fills summary.wall_s and
/// summary.peak_rss_bytes first. `example_eps_max` < 0 when DP-SGD is off.
void write_run_outputs(const SimConfig& cfg, const SimSetup& setup, std::span<const float> theta,
                       std::int64_t last_round, int threads, double example_eps_max, SimulationSummary& summary,
                       double wall_s);

}  // namespace fedlora::sim
