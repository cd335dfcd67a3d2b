#pragma once
// [fleet]: what the simulated devices are like and when they can train. Device classes
// (compute rate, memory, network), an availability model (always; diurnal, as Gboard's
// eligibility: idle, charging and on an unmetered network, mostly at night in local time;
// or a trace file), and the round deadline. The simulated clock (simulator/run/sim_clock.h)
// turns these into a time per device and per round; training itself still runs on the host.
//
//   [fleet]
//   classes = [ { name = "low", share = 0.5, gflops = 8, memory_mb = 1024,
//                 down_mbps = 20, up_mbps = 5, latency_ms = 80 }, ... ]
//   availability = "diurnal"          # "always" | "diurnal" | "trace"
//   eligible_by_hour = [ 24 numbers ] # diurnal: P(a session starts in this local hour)
//   utc_offsets = [ -8, -5, 0, 1, 8 ] # diurnal: each device's zone, drawn uniformly (hours)
//   session_minutes = 120             # diurnal: mean eligible-session length (exponential)
//   trace = "avail.csv"               # trace: device_id,available_from_s,available_to_s
//   start_hour_utc = 0                # the clock starts at this UTC hour of day 0
//   round_deadline_s = 600            # 0 = no deadline: a round waits for its cohort
#include <array>
#include <filesystem>
#include <string>
#include <vector>

#include "coordinator/config/toml_reader.h"

namespace fedlora::sim {

/// One kind of device. Rates are what the device sustains in local training and transfers.
struct DeviceClass {
  std::string name = "reference";
  double share = 1.0;        ///< fraction of the population (shares sum to 1)
  double gflops = 80.0;      ///< training compute rate, GFLOP/s (work as train_flops.h counts it)
  double memory_mb = 0.0;    ///< training memory budget (client.memory_budget_mb semantics); 0 = unbounded
  double down_mbps = 100.0;  ///< downlink, Mbit/s
  double up_mbps = 20.0;     ///< uplink, Mbit/s
  double latency_ms = 50.0;  ///< one-way latency per message, ms
  bool operator==(const DeviceClass&) const = default;
};

enum class Availability { always, diurnal, trace };

struct FleetSection {
  std::vector<DeviceClass> classes{DeviceClass{}};
  Availability availability = Availability::always;
  /// Diurnal: probability that an eligible session starts in each local hour (0..23). The
  /// default peaks at night, as Gboard describes eligibility (idle, charging, unmetered).
  std::array<double, 24> eligible_by_hour{0.30, 0.35, 0.35, 0.35, 0.30, 0.20, 0.10, 0.05, 0.03, 0.03, 0.03, 0.03,
                                          0.03, 0.03, 0.03, 0.03, 0.03, 0.05, 0.05, 0.08, 0.10, 0.15, 0.20, 0.25};
  std::vector<double> utc_offsets{0.0};  ///< hours; each device's zone is drawn uniformly from these
  double session_minutes = 120.0;        ///< mean length of an eligible session
  std::filesystem::path trace;           ///< availability = trace
  double start_hour_utc = 0.0;           ///< simulated time 0 is this hour of day 0, UTC
  double round_deadline_s = 0.0;         ///< 0 = none

  /// Throws config::ConfigError naming the first bad value (shares not summing to 1 within
  /// 1e-6, non-positive rates, probabilities outside [0, 1], a missing trace path, ...).
  void validate() const;
  /// Equal to FleetSection{}: the run does not model its fleet.
  bool operator==(const FleetSection&) const = default;
};

/// Reads [fleet] (every key optional; absent = one reference class, always available, no
/// deadline). Throws config::ConfigError naming "fleet.classes[i].key" for a bad entry.
FleetSection read_fleet_section(config::TomlReader& r);

/// "fleet.key" = value strings for summary.json.
std::vector<std::pair<std::string, std::string>> describe_fleet(const FleetSection& f);

}  // namespace fedlora::sim
