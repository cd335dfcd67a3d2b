#include "coordinator/service/serve_config.h"

#include <climits>

namespace fedlora::coordinator {
namespace {

int to_int(config::TomlReader& r, const char* k, int def) {
  const std::int64_t v = r.get_int("serve", k, def);
  if (v < INT32_MIN || v > INT32_MAX) throw config::ConfigError(r.source() + ": serve." + k + " is out of range");
  return static_cast<int>(v);
}

}  // namespace

ServeConfig load_serve_config(const std::filesystem::path& path, const std::vector<std::string>& overrides) {
  if (!std::filesystem::exists(path)) throw config::ConfigError("config file " + path.string() + " does not exist");
  auto r = config::TomlReader::from_file(path);
  for (const auto& o : overrides) r.apply_override(o);
  ServeConfig c;
  config::read_job_sections(r, c);
  auto& s = c.serve;
  s.listen = r.get_string("serve", "listen", s.listen);
  s.tls_cert = r.get_string("serve", "tls_cert", s.tls_cert.string());
  s.tls_key = r.get_string("serve", "tls_key", s.tls_key.string());
  s.client_ca = r.get_string("serve", "client_ca", s.client_ca.string());
  s.tokens_file = r.get_string("serve", "tokens_file", s.tokens_file.string());
  s.state_dir = r.get_string("serve", "state_dir", s.state_dir.string());
  s.over_selection = r.get_double("serve", "over_selection", s.over_selection);
  s.min_devices = to_int(r, "min_devices", s.min_devices);
  s.population = r.get_int("serve", "population", s.population);
  s.checkin_retry_ms = to_int(r, "checkin_retry_ms", s.checkin_retry_ms);
  s.available_ttl_ms = to_int(r, "available_ttl_ms", s.available_ttl_ms);
  s.train_deadline_ms = to_int(r, "train_deadline_ms", s.train_deadline_ms);
  s.stage_deadline_ms = to_int(r, "stage_deadline_ms", s.stage_deadline_ms);
  s.round_pause_ms = to_int(r, "round_pause_ms", s.round_pause_ms);
  s.keep_checkpoints = to_int(r, "keep_checkpoints", s.keep_checkpoints);
  s.seed = static_cast<std::uint64_t>(r.get_int("serve", "seed", static_cast<std::int64_t>(s.seed)));
  s.reproducible_noise = r.get_bool("serve", "reproducible_noise", s.reproducible_noise);
  r.reject_unknown_keys();
  c.validate();
  return c;
}

void ServeConfig::validate() const {
  auto bad = [](const std::string& w) { throw config::ConfigError("config: serve." + w); };
  if (serve.listen.find(':') == std::string::npos) bad("listen must be host:port, e.g. 0.0.0.0:50051");
  if (serve.tls_cert.empty() != serve.tls_key.empty()) bad("tls_cert and tls_key go together");
  if (!serve.client_ca.empty() && serve.tls_cert.empty()) bad("client_ca (mTLS) needs tls_cert and tls_key");
  if (serve.state_dir.empty()) bad("state_dir must name a directory");
  if (!(serve.over_selection >= 1.0 && serve.over_selection <= 10.0)) bad("over_selection must be in [1, 10]");
  if (user_dp.enabled && serve.over_selection != 1.0)
    bad("over_selection must be 1 with user_dp: closing at the first K reports would change the Poisson "
        "sampling the accountant assumes");
  if (serve.min_devices < 0) bad("min_devices must be >= 0 (0 = the selection size)");
  if (serve.population < 0) bad("population must be >= 0 (0 = enrolled devices)");
  if (serve.checkin_retry_ms < 1 || serve.checkin_retry_ms > 3'600'000) bad("checkin_retry_ms must be in [1, 3600000]");
  if (serve.available_ttl_ms < serve.checkin_retry_ms) bad("available_ttl_ms must be >= checkin_retry_ms");
  if (serve.train_deadline_ms < 1 || serve.stage_deadline_ms < 1) bad("deadlines must be >= 1 ms");
  if (serve.round_pause_ms < 0) bad("round_pause_ms must be >= 0");
  if (serve.keep_checkpoints < 1) bad("keep_checkpoints must be >= 1");
  if (serve.tokens_file.empty() && serve.client_ca.empty())
    bad("tokens_file or client_ca must be set: devices authenticate with a bearer token or a client certificate");
  JobConfig::validate();
}

}  // namespace fedlora::coordinator
