// Fuzz bodies of the TOML job configuration and the SecAgg+ message handlers.
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <new>
#include <string>

#include "coordinator/config/job_config.h"
#include "coordinator/config/toml_reader.h"
#include "coordinator/service/serve_config.h"
#include "fuzz/targets/fuzz_targets.h"
#include "fuzz/targets/fuzz_util.h"
#include "fuzz/targets/secagg_fuzz_round.h"
#include "secure-agg/wire.h"
#include "simulator/config/sim_config.h"

namespace fedlora::fuzz {

// The same bytes as the shared job sections, then as a simulator config (load_sim_config:
// [run], [data], unknown keys) or a coordinator config (load_serve_config: [serve]). Every loader
// promises ConfigError for bad input; any other exception escapes and is a finding.
void job_config(const std::uint8_t* data, std::size_t size) {
  const auto text = as_text(data, size);
  try {
    auto r = config::TomlReader::from_string(text, "fuzz.toml");
    config::JobConfig job;
    config::read_job_sections(r, job);
    job.validate();
    // What the loader accepted is written back as TOML that reads to the same sections.
    auto again = config::TomlReader::from_string(config::write_job_toml(job), "fuzz-again.toml");
    config::JobConfig job2;
    config::read_job_sections(again, job2);
    job2.validate();
    if (config::describe_job(job2) != config::describe_job(job)) fail("job_sections_toml does not read back the same job");
  } catch (const config::ConfigError&) {
  }
  // A file with a [serve] table is a coordinator's; the other loader would only list every
  // key of it as unknown (with nearest-key suggestions, the slowest path of all).
  const auto path = write_scratch("job.toml", text);
  try {
    if (text.find("[serve]") != std::string_view::npos) (void)coordinator::load_serve_config(path, {});
    else (void)sim::load_sim_config(path, {});
  } catch (const config::ConfigError&) {
  }
}

secagg::RoundConfig fuzz_round_config() {
  secagg::RoundConfig c;
  for (std::size_t i = 0; i < c.session_id.size(); ++i) c.session_id[i] = static_cast<std::uint8_t>(i + 1);
  c.round = 7;
  c.num_clients = kSecAggClients;
  c.vector_length = 8;
  c.word_bits = 32;
  c.params = secagg::SecAggParameters{secagg::GraphKind::kComplete, kSecAggClients - 1, 3};
  c.consistency_check = true;
  return c;
}

std::vector<std::vector<std::uint64_t>> fuzz_round_inputs() {
  std::vector<std::vector<std::uint64_t>> in(kSecAggClients, std::vector<std::uint64_t>(8));
  for (std::uint32_t u = 0; u < kSecAggClients; ++u)
    for (std::size_t i = 0; i < 8; ++i) in[u][i] = (u * 1000003u + i * 7919u) & 0xFFFFFFFFu;
  return in;
}

void secagg_round(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return;
  const auto sel = MessageSelector::from_byte(data[0]);
  bool used = false;
  secagg::DriverHooks hooks;
  auto matches = [&](secagg::ClientId u, std::optional<secagg::Stage> s, bool to_client) {
    return !used && to_client == sel.to_client && u == sel.client && s && static_cast<int>(*s) == sel.stage;
  };
  hooks.on_upload = [&](secagg::ClientId u, secagg::pb::ClientToServer& m) {
    if (!matches(u, secagg::body_stage(m), false)) return;
    used = true;
    secagg::pb::ClientToServer f;
    if (f.ParseFromArray(data + 1, static_cast<int>(size - 1))) m = std::move(f);
  };
  hooks.on_download = [&](secagg::ClientId u, secagg::pb::ServerToClient& m) {
    if (!matches(u, secagg::body_stage(m), true)) return;
    used = true;
    secagg::pb::ServerToClient f;
    if (f.ParseFromArray(data + 1, static_cast<int>(size - 1))) m = std::move(f);
  };
  // Protocol failures are outcomes, never exceptions (driver.h): any exception is a finding.
  const auto report = secagg::run_secagg_round_encoded(fuzz_round_config(), fuzz_round_inputs(),
                                                       secagg::DropoutSchedule::none(kSecAggClients), 11, hooks);
  (void)report;
}

}  // namespace fedlora::fuzz
