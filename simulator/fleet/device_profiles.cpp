#include "simulator/fleet/device_profiles.h"

#include "coordinator/protocol/seeds.h"

namespace fedlora::sim {
namespace {
constexpr std::uint64_t kClassTag = 0xF1EE7C1A55ull, kZoneTag = 0xF1EE720E5ull;
double unit(std::uint64_t h) { return static_cast<double>(h >> 11) * 0x1.0p-53; }
}  // namespace

DeviceProfiles::DeviceProfiles(const FleetSection& fleet, std::size_t population, std::uint64_t seed)
    : classes_(fleet.classes), offsets_(fleet.utc_offsets), class_of_(population), zone_of_(population) {
  fleet.validate();
  if (classes_.size() > 255 || offsets_.size() > 255)
    throw config::ConfigError("config: fleet.classes and fleet.utc_offsets may list at most 255 entries each");
  for (std::size_t d = 0; d < population; ++d) {
    const double u = unit(protocol::derive_seed(seed, {kClassTag, d}));
    double cum = 0;
    std::size_t c = classes_.size() - 1;  // shares sum to 1 within 1e-6: the last takes the rest
    for (std::size_t i = 0; i < classes_.size(); ++i) {
      cum += classes_[i].share;
      if (u < cum) {
        c = i;
        break;
      }
    }
    class_of_[d] = static_cast<std::uint8_t>(c);
    zone_of_[d] = static_cast<std::uint8_t>(protocol::derive_seed(seed, {kZoneTag, d}) % offsets_.size());
  }
}

}  // namespace fedlora::sim
