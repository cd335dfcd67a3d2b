#pragma once
// Which device class and time zone each virtual device has: drawn once per device from the
// run seed (independent of cohorts and rounds), so a device keeps its profile for the run
// and the same seed gives the same fleet. 2 bytes per device (class index, zone index).
#include <cstdint>
#include <vector>

#include "simulator/config/fleet_section.h"

namespace fedlora::sim {

class DeviceProfiles {
 public:
  /// Draws the class of each of `population` devices with probability = its share, and a
  /// zone uniformly from fleet.utc_offsets. Throws config::ConfigError if fleet is invalid or
  /// lists more than 255 classes or zones.
  DeviceProfiles(const FleetSection& fleet, std::size_t population, std::uint64_t seed);

  /// Devices in the population.
  std::size_t size() const { return class_of_.size(); }
  /// Throws std::out_of_range for an unknown device.
  const DeviceClass& device_class(std::uint64_t device) const { return classes_.at(class_of_.at(device)); }
  /// Index of the device's class in classes(). Throws std::out_of_range for an unknown device.
  std::size_t class_index(std::uint64_t device) const { return class_of_.at(device); }
  /// Hours east of UTC.
  double utc_offset(std::uint64_t device) const { return offsets_.at(zone_of_.at(device)); }
  /// fleet.classes, in configuration order.
  const std::vector<DeviceClass>& classes() const { return classes_; }

 private:
  std::vector<DeviceClass> classes_;
  std::vector<double> offsets_;
  std::vector<std::uint8_t> class_of_, zone_of_;
};

}  // namespace fedlora::sim
