#include "simulator/fleet/availability.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <limits>
#include <sstream>

#include "coordinator/protocol/seeds.h"

namespace fedlora::sim {
namespace {

using config::ConfigError;
constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr std::uint64_t kSessionTag = 0x5E5510Aull;
constexpr double kMaxSessionHours = 24.0;

double unit(std::uint64_t h) { return static_cast<double>(h >> 11) * 0x1.0p-53; }

class Always final : public AvailabilityModel {
 public:
  std::optional<double> available_until(std::uint64_t, double) const override { return kInf; }
};

class Diurnal final : public AvailabilityModel {
 public:
  Diurnal(const FleetSection& f, const DeviceProfiles& p, std::uint64_t seed) : f_(f), profiles_(p), seed_(seed) {}

  std::optional<double> available_until(std::uint64_t device, double t) const override {
    const double offset_h = f_.start_hour_utc + profiles_.utc_offset(device);
    // Local hours are counted from an origin one day back, so the index is never negative.
    auto local_hour = [&](double s) { return static_cast<std::int64_t>(std::floor(s / 3600.0 + offset_h + 24.0)); };
    const std::int64_t now = local_hour(t);
    double end = -kInf;
    bool inside = false;
    // Sessions that started up to 24 h before t may still cover it; a later start can
    // extend a covering session (overlapping sessions are one eligible stretch).
    for (std::int64_t h = now - static_cast<std::int64_t>(kMaxSessionHours); h <= now + 48; ++h) {
      if (!inside && h > now) break;  // a session starting after t cannot cover t
      const auto s = session(device, h, offset_h);
      if (!s) continue;
      if (!inside) {
        if (s->first <= t && t < s->second) {
          inside = true;
          end = s->second;
        }
      } else if (s->first <= end) {
        end = std::max(end, s->second);
      } else if (h > now) {
        break;
      }
    }
    if (!inside) return std::nullopt;
    return end;
  }

 private:
  // The session starting in local hour index h, as [start, end) in simulated seconds.
  std::optional<std::pair<double, double>> session(std::uint64_t device, std::int64_t h, double offset_h) const {
    const std::uint64_t z = protocol::derive_seed(seed_, {kSessionTag, device, static_cast<std::uint64_t>(h)});
    const int hour_of_day = static_cast<int>(((h % 24) + 24) % 24);
    if (unit(z) >= f_.eligible_by_hour[static_cast<std::size_t>(hour_of_day)]) return std::nullopt;
    const double start_h = static_cast<double>(h) + unit(protocol::derive_seed(z, {1})) - offset_h - 24.0;
    const double len_h =
        std::min(kMaxSessionHours, -std::log1p(-unit(protocol::derive_seed(z, {2}))) * f_.session_minutes / 60.0);
    return std::make_pair(start_h * 3600.0, (start_h + len_h) * 3600.0);
  }

  const FleetSection& f_;
  const DeviceProfiles& profiles_;
  std::uint64_t seed_;
};

class Trace final : public AvailabilityModel {
 public:
  explicit Trace(std::vector<std::vector<std::pair<double, double>>> rows) : rows_(std::move(rows)) {}
  std::optional<double> available_until(std::uint64_t device, double t) const override {
    if (device >= rows_.size()) return std::nullopt;
    const auto& iv = rows_[device];
    auto it = std::upper_bound(iv.begin(), iv.end(), t, [](double x, const auto& p) { return x < p.first; });
    if (it == iv.begin()) return std::nullopt;
    --it;
    if (t < it->second) return it->second;
    return std::nullopt;
  }

 private:
  std::vector<std::vector<std::pair<double, double>>> rows_;
};

}  // namespace

std::vector<std::vector<std::pair<double, double>>> read_availability_trace(const std::filesystem::path& csv,
                                                                             std::size_t population) {
  std::ifstream in(csv);
  if (!in) throw ConfigError("fleet.trace: cannot open " + csv.string());
  std::vector<std::vector<std::pair<double, double>>> rows(population);
  std::string line;
  std::size_t n = 0;
  while (std::getline(in, line)) {
    ++n;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || line[0] == '#') continue;
    auto fail = [&](const std::string& why) {
      throw ConfigError("fleet.trace " + csv.string() + ":" + std::to_string(n) + ": " + why +
                        " (rows are device_id,available_from_s,available_to_s)");
    };
    std::stringstream ss(line);
    std::string a, b, c, extra;
    if (!std::getline(ss, a, ',') || !std::getline(ss, b, ',') || !std::getline(ss, c, ',')) fail("expected 3 fields");
    if (std::getline(ss, extra, ',')) fail("more than 3 fields");
    std::uint64_t id = 0;
    double from = 0, to = 0;
    try {
      std::size_t pos = 0;
      if (!a.empty() && a[0] == '-') throw std::invalid_argument("negative");
      id = std::stoull(a, &pos);
      if (pos != a.size()) throw std::invalid_argument("junk");
      from = std::stod(b, &pos);
      if (pos != b.size()) throw std::invalid_argument("junk");
      to = std::stod(c, &pos);
      if (pos != c.size()) throw std::invalid_argument("junk");
    } catch (const std::exception&) {
      if (n == 1) continue;  // a header row
      fail("'" + line + "' is not an id and two times in seconds");
    }
    if (id >= population)
      fail("device " + std::to_string(id) + " is not in the population of " + std::to_string(population));
    if (!std::isfinite(from) || !std::isfinite(to) || from < 0 || to <= from)
      fail("the interval must satisfy 0 <= available_from_s < available_to_s");
    rows[id].emplace_back(from, to);
  }
  for (auto& iv : rows) {
    std::sort(iv.begin(), iv.end());
    std::vector<std::pair<double, double>> merged;
    for (const auto& p : iv) {
      if (!merged.empty() && p.first <= merged.back().second) merged.back().second = std::max(merged.back().second, p.second);
      else merged.push_back(p);
    }
    iv = std::move(merged);
  }
  return rows;
}

std::unique_ptr<AvailabilityModel> make_availability(const FleetSection& fleet, const DeviceProfiles& profiles,
                                                     std::uint64_t seed) {
  switch (fleet.availability) {
    case Availability::always: return std::make_unique<Always>();
    case Availability::diurnal: return std::make_unique<Diurnal>(fleet, profiles, seed);
    case Availability::trace: return std::make_unique<Trace>(read_availability_trace(fleet.trace, profiles.size()));
  }
  throw ConfigError("fleet.availability: unknown model");
}

}  // namespace fedlora::sim
