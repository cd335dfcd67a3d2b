#pragma once
// When a virtual device is eligible to train (simulated time: seconds since the clock's
// start). Three models:
//   always    every device, all the time;
//   diurnal   in each local hour h, a device starts an eligible session with probability
//             fleet.eligible_by_hour[h mod 24], at a uniform time within the hour, lasting
//             Exp(mean = fleet.session_minutes), truncated at 24 h. Eligible = inside a
//             session (Gboard's criteria, Hard et al. 2018 §3 / Bonawitz et al. 2019 §2:
//             idle, charging, unmetered network; hence mostly at night). Draws come from
//             the run seed by (device, hour), so the same seed gives the same fleet;
//   trace     fleet.trace, a CSV of "device_id,available_from_s,available_to_s" rows
//             (a header row is allowed); devices absent from it are never available.
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <vector>

#include "simulator/config/fleet_section.h"
#include "simulator/fleet/device_profiles.h"

namespace fedlora::sim {

class AvailabilityModel {
 public:
  virtual ~AvailabilityModel() = default;
  /// If `device` is eligible at time t (s), until when it stays eligible (s; +inf for
  /// always); nullopt if it is not eligible at t.
  virtual std::optional<double> available_until(std::uint64_t device, double t) const = 0;
};

/// The model fleet.availability names. Throws config::ConfigError for an unreadable or
/// malformed trace (file, line and what is wrong), or a trace device id >= population.
std::unique_ptr<AvailabilityModel> make_availability(const FleetSection& fleet, const DeviceProfiles& profiles,
                                                     std::uint64_t seed);

/// Parsed trace rows per device id (sorted, merged where they overlap). Exposed for tests.
/// Throws config::ConfigError as make_availability.
std::vector<std::vector<std::pair<double, double>>> read_availability_trace(const std::filesystem::path& csv,
                                                                             std::size_t population);

}  // namespace fedlora::sim
