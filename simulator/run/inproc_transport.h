#pragma once
// The simulator's transport: it carries one round between the coordinator's RoundDriver and
// the cohort's virtual devices (client::DeviceRound) by function calls, on the worker pool,
// with simulated dropouts. It holds no round logic of its own: instructions go through their
// wire form, uploads and SecAgg messages through the driver's aggregation channel, exactly
// as over gRPC.
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <unordered_set>
#include <vector>

#include "client/round/device_round.h"
#include "coordinator/round/round_driver.h"
#include "privacy/ledger/privacy_ledger.h"
#include "simulator/config/sim_config.h"
#include "simulator/fleet/device_profiles.h"
#include "simulator/fleet/fleet.h"
#include "simulator/fleet/worker_pool.h"
#include "simulator/run/device_timing.h"
#include "simulator/run/member_fates.h"
#include "simulator/run/sim_clock.h"

namespace fedlora::sim {

/// What one virtual device did in the round (simulation report).
struct DeviceOutcome {
  std::uint64_t device = 0;
  client::DeviceRoundReport report;
  bool dropped = false;               ///< went silent (simulated dropout)
  std::optional<secagg::Stage> dropped_before;  ///< SecAgg rounds: the first stage it missed
  std::optional<std::string> refused_task;  ///< DeviceRound refused the instructions
  MemberFate fate = MemberFate::silent;     ///< simulated clock: how its report fared
};

struct InprocRound {
  coordinator::RoundReport report;
  std::vector<DeviceOutcome> devices;  ///< cohort order
  std::optional<ClockedRound> clock;   ///< set when run with a RoundClockSpec
};

/// The fleet-wide device state the transport needs.
struct VirtualFleet {
  const Fleet& fleet;
  std::shared_ptr<const lora::BaseModel> base;
  protocol::Sha256Digest base_model_sha256{};
  privacy::PrivacyLedger* ledger = nullptr;           ///< one ledger for every virtual device (DP-SGD)
  std::optional<privacy::PrivacyBudget> dp_budget;    ///< each device's example-level budget
  std::optional<std::uint64_t> research_seed;         ///< reproducible device randomness (non-private runs)
  std::vector<secagg::crypto::Ed25519PrivateKey> identities;  ///< per device (SecAgg jobs), by device id
  secagg::ClientPolicy secagg_policy;                 ///< what every virtual device accepts
  std::optional<double> memory_budget_mb;             ///< every device's training memory budget
  lora::BaseGemm base_gemm = lora::BaseGemm::fp32;    ///< every device's base products
  const DeviceProfiles* profiles = nullptr;           ///< per-device class (its memory_mb caps the budget)
};

/// Identity keys for a fleet of `n` virtual devices: drawn from the OS, or for research runs
/// from DeterministicRandom(seed, "identity <i>") so that rosters repeat.
std::vector<secagg::crypto::Ed25519PrivateKey> virtual_identities(std::size_t n, std::optional<std::uint64_t> research_seed);

/// The SecAgg policy of virtual devices: the job's threat model (secure-agg/client_policy.h),
/// with its graph-seed cost as the floor.
secagg::ClientPolicy virtual_device_policy(const config::SecAggSection& secagg);

/// The context of virtual device `id` (its base, identity, ledger, randomness, memory budget
/// capped by its class) over its training windows `train` (not owned; must outlive it).
client::DeviceContext virtual_device_context(const VirtualFleet& fleet, std::uint64_t id,
                                             const std::vector<lora::TokenSeq>& train);

/// DeviceFacts of the simulated fleet for the round driver.
coordinator::DeviceFacts virtual_device_facts(const VirtualFleet& fleet);

/// Carries one round between the coordinator's RoundDriver and the cohort's virtual
/// devices: InprocTransport (this process), ShardedTransport (several processes,
/// simulator/multi/).
class RoundTransport {
 public:
  virtual ~RoundTransport() = default;
  /// Runs round driver.coordinator().next_round() among `available` minus `ineligible`.
  /// With `clock`, members report in simulated arrival order: the round takes the first
  /// clock->target reports before the deadline, later ones are stragglers and members whose
  /// session ends before they report (or, with SecAgg, before a stage ends) go silent.
  virtual InprocRound run_round(coordinator::RoundDriver& driver, std::span<const std::uint64_t> available,
                                const std::unordered_set<std::uint64_t>& ineligible,
                                const RoundClockSpec* clock = nullptr) = 0;
};

class InprocTransport final : public RoundTransport {
 public:
  /// `dropout_rate` ∈ [0, 1): chance that a selected device goes silent, before a protocol
  /// stage drawn uniformly (plain rounds: before uploading); drawn from seeds derived from
  /// `run_seed`, so the same seed drops the same devices.
  InprocTransport(WorkerPool& pool, VirtualFleet fleet, double dropout_rate, std::uint64_t run_seed);

  InprocRound run_round(coordinator::RoundDriver& driver, std::span<const std::uint64_t> available,
                        const std::unordered_set<std::uint64_t>& ineligible,
                        const RoundClockSpec* clock = nullptr) override;

 private:
  WorkerPool& pool_;
  VirtualFleet fleet_;
  double dropout_rate_;
  std::uint64_t run_seed_;
};

}  // namespace fedlora::sim
