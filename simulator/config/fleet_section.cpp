#include "simulator/config/fleet_section.h"

#include "coordinator/config/job_config.h"

#include <cmath>
#include <set>

namespace fedlora::sim {
namespace {

using config::ConfigError;

std::string key_of(std::size_t i, const std::string& k) { return "fleet.classes[" + std::to_string(i) + "]." + k; }

double number_of(const toml::table& t, std::size_t i, const std::string& k, double def, const std::string& source) {
  const auto* n = t.get(k);
  if (n == nullptr) return def;
  if (auto v = n->value<double>()) return *v;
  throw ConfigError(source + ": " + key_of(i, k) + " must be a number");
}

DeviceClass read_class(const toml::table& t, std::size_t i, const std::string& source) {
  static const std::set<std::string> known{"name", "share", "gflops", "memory_mb", "down_mbps", "up_mbps", "latency_ms"};
  for (const auto& [k, v] : t)
    if (!known.count(std::string(k.str())))
      throw ConfigError(source + ": unknown key " + key_of(i, std::string(k.str())) +
                        " (use name, share, gflops, memory_mb, down_mbps, up_mbps, latency_ms)");
  DeviceClass c;
  if (const auto* n = t.get("name")) {
    if (!n->is_string()) throw ConfigError(source + ": " + key_of(i, "name") + " must be a string");
    c.name = n->as_string()->get();
  } else {
    c.name = "class" + std::to_string(i);
  }
  c.share = number_of(t, i, "share", c.share, source);
  c.gflops = number_of(t, i, "gflops", c.gflops, source);
  c.memory_mb = number_of(t, i, "memory_mb", c.memory_mb, source);
  c.down_mbps = number_of(t, i, "down_mbps", c.down_mbps, source);
  c.up_mbps = number_of(t, i, "up_mbps", c.up_mbps, source);
  c.latency_ms = number_of(t, i, "latency_ms", c.latency_ms, source);
  return c;
}

}  // namespace

void FleetSection::validate() const {
  auto bad = [](const std::string& what) { throw ConfigError("config: " + what); };
  if (classes.empty()) bad("fleet.classes must list at least one device class");
  double total = 0;
  std::set<std::string> names;
  for (std::size_t i = 0; i < classes.size(); ++i) {
    const auto& c = classes[i];
    auto positive = [&](double v, const char* k) {
      if (!(v > 0) || !std::isfinite(v)) bad(key_of(i, k) + " must be a finite number > 0");
    };
    if (!names.insert(c.name).second) bad(key_of(i, "name") + " '" + c.name + "' is used twice");
    if (!(c.share > 0 && c.share <= 1)) bad(key_of(i, "share") + " must be in (0, 1]");
    positive(c.gflops, "gflops");
    positive(c.down_mbps, "down_mbps");
    positive(c.up_mbps, "up_mbps");
    if (!(c.memory_mb >= 0) || !std::isfinite(c.memory_mb)) bad(key_of(i, "memory_mb") + " must be >= 0 (0 = unbounded)");
    if (!(c.latency_ms >= 0) || !std::isfinite(c.latency_ms)) bad(key_of(i, "latency_ms") + " must be >= 0");
    total += c.share;
  }
  if (std::abs(total - 1.0) > 1e-6) bad("fleet.classes shares sum to " + std::to_string(total) + ", not 1");
  for (int h = 0; h < 24; ++h)
    if (!(eligible_by_hour[h] >= 0 && eligible_by_hour[h] <= 1))
      bad("fleet.eligible_by_hour[" + std::to_string(h) + "] must be a probability in [0, 1]");
  if (utc_offsets.empty()) bad("fleet.utc_offsets must list at least one offset");
  for (double o : utc_offsets)
    if (!(o >= -12 && o <= 14)) bad("fleet.utc_offsets: " + std::to_string(o) + " is not a UTC offset in [-12, 14] hours");
  if (!(session_minutes > 0) || !std::isfinite(session_minutes)) bad("fleet.session_minutes must be > 0");
  if (availability == Availability::trace && trace.empty()) bad("fleet.availability = \"trace\" needs fleet.trace (a CSV file)");
  if (availability != Availability::trace && !trace.empty())
    bad("fleet.trace is set but fleet.availability is not \"trace\"");
  if (!(start_hour_utc >= 0 && start_hour_utc < 24)) bad("fleet.start_hour_utc must be in [0, 24)");
  if (!(round_deadline_s >= 0) || !std::isfinite(round_deadline_s)) bad("fleet.round_deadline_s must be >= 0 (0 = none)");
}

FleetSection read_fleet_section(config::TomlReader& r) {
  FleetSection f;
  const auto tables = r.get_table_list("fleet", "classes");
  if (!tables.empty()) {
    f.classes.clear();
    for (std::size_t i = 0; i < tables.size(); ++i) f.classes.push_back(read_class(tables[i], i, r.source()));
  }
  const std::string a = r.get_string("fleet", "availability", "always");
  if (a == "always") f.availability = Availability::always;
  else if (a == "diurnal") f.availability = Availability::diurnal;
  else if (a == "trace") f.availability = Availability::trace;
  else throw ConfigError(r.source() + ": fleet.availability '" + a + "': use always, diurnal or trace");
  const std::vector<double> hours(f.eligible_by_hour.begin(), f.eligible_by_hour.end());
  const auto by_hour = r.get_double_list("fleet", "eligible_by_hour", hours);
  if (by_hour.size() != 24)
    throw ConfigError(r.source() + ": fleet.eligible_by_hour must have 24 entries (hours 0..23), got " +
                      std::to_string(by_hour.size()));
  std::copy(by_hour.begin(), by_hour.end(), f.eligible_by_hour.begin());
  f.utc_offsets = r.get_double_list("fleet", "utc_offsets", f.utc_offsets);
  f.session_minutes = r.get_double("fleet", "session_minutes", f.session_minutes);
  f.trace = r.get_string("fleet", "trace", f.trace.string());
  f.start_hour_utc = r.get_double("fleet", "start_hour_utc", f.start_hour_utc);
  f.round_deadline_s = r.get_double("fleet", "round_deadline_s", f.round_deadline_s);
  return f;
}

std::vector<std::pair<std::string, std::string>> describe_fleet(const FleetSection& f) {
  std::vector<std::pair<std::string, std::string>> d;
  for (std::size_t i = 0; i < f.classes.size(); ++i) {
    const auto& c = f.classes[i];
    d.emplace_back(key_of(i, "name"), c.name);
    d.emplace_back(key_of(i, "share"), config::format_number(c.share));
    d.emplace_back(key_of(i, "gflops"), config::format_number(c.gflops));
    d.emplace_back(key_of(i, "memory_mb"), config::format_number(c.memory_mb));
    d.emplace_back(key_of(i, "down_mbps"), config::format_number(c.down_mbps));
    d.emplace_back(key_of(i, "up_mbps"), config::format_number(c.up_mbps));
    d.emplace_back(key_of(i, "latency_ms"), config::format_number(c.latency_ms));
  }
  d.emplace_back("fleet.availability", f.availability == Availability::always    ? "always"
                                       : f.availability == Availability::diurnal ? "diurnal"
                                                                                 : "trace");
  std::string hours;
  for (double p : f.eligible_by_hour) hours += (hours.empty() ? "" : ",") + config::format_number(p);
  d.emplace_back("fleet.eligible_by_hour", hours);
  std::string zones;
  for (double o : f.utc_offsets) zones += (zones.empty() ? "" : ",") + config::format_number(o);
  d.emplace_back("fleet.utc_offsets", zones);
  d.emplace_back("fleet.session_minutes", config::format_number(f.session_minutes));
  d.emplace_back("fleet.trace", f.trace.string());
  d.emplace_back("fleet.start_hour_utc", config::format_number(f.start_hour_utc));
  d.emplace_back("fleet.round_deadline_s", config::format_number(f.round_deadline_s));
  return d;
}

}  // namespace fedlora::sim
