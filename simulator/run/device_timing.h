#pragma once
// A virtual device's simulated times in a round, from its class (simulator/fleet/
// device_profiles.h), its eligible session (availability.h), the bytes it moves and the
// FLOPs its local training executed (lora/model/train_flops.h):
//   download  transfer_seconds(θ bytes, down_mbps, latency)
//   compute   tokens trained · FLOP per token / gflops
//   upload    transfer_seconds(update bytes, up_mbps, latency) (plain rounds; with SecAgg
//             the first message is small and the masked input follows as its own stage)
#include <cstdint>
#include <memory>
#include <vector>

#include "client/round/device_round.h"
#include "lora/model/llama_config.h"
#include "simulator/fleet/availability.h"
#include "simulator/config/sim_config.h"
#include "simulator/fleet/device_profiles.h"
#include "simulator/run/sim_clock.h"

namespace fedlora::sim {

struct TrainShape {
  lora::LlamaConfig model;
  std::vector<lora::TargetModule> targets;
  int64_t rank = 8;
  int64_t seq_len = 128;          ///< target tokens per window
  int64_t batch_size = 8;
};

class DeviceTimer {
 public:
  /// `down_bytes`: θ as sent; `up_bytes`: a plain upload; `masked_bytes`: the SecAgg masked
  /// input (0 without SecAgg).
  DeviceTimer(const DeviceProfiles& profiles, const AvailabilityModel& availability, TrainShape shape,
              double down_bytes, double up_bytes, double masked_bytes);

  /// The member's times relative to the round's opening at absolute time `open_s`. A
  /// device that did not train (refused, failed, dropped) gets report_s = kNever.
  MemberTime time(std::uint64_t device, double open_s, const client::DeviceRoundReport& report, bool trained) const;

  /// FLOP its local training executed (tokens trained · train_flop_per_token).
  double train_flop(const client::DeviceRoundReport& report) const;

  /// Seconds from `open_s` until the device's eligible session ends (kNever: always).
  double leaves_after(std::uint64_t device, double open_s) const;

 private:
  const DeviceProfiles& profiles_;
  const AvailabilityModel& availability_;
  TrainShape shape_;
  double down_bytes_, up_bytes_, masked_bytes_;
};

/// A run's simulated fleet: every device's class and zone, their eligible sessions, and the
/// timer, all drawn from the run seed (not privacy randomness), so that every mode of a run
/// (sync rounds, FedBuff) sees the same fleet. Not copyable: the timer refers to the rest.
struct FleetClock {
  /// `population` devices of cfg.fleet; bytes as DeviceTimer takes them. Throws
  /// config::ConfigError for an invalid [fleet] or trace.
  FleetClock(const SimConfig& cfg, std::size_t population, TrainShape shape, double down_bytes, double up_bytes,
             double masked_bytes);
  FleetClock(const FleetClock&) = delete;
  FleetClock& operator=(const FleetClock&) = delete;

  DeviceProfiles profiles;
  std::unique_ptr<AvailabilityModel> availability;
  DeviceTimer timer;
};

}  // namespace fedlora::sim
