// Every validation rule of `fedlora-coordinator serve`'s [serve] section, one case each (the
// shared job sections are covered by tests/simulator/config_rules_test.cpp).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "coordinator/service/serve_config.h"

namespace fedlora::coordinator {
namespace {
namespace fs = std::filesystem;

std::string error_of(const std::vector<std::string>& sets) {
  const fs::path path = fs::temp_directory_path() / ("fedlora_serve_" + std::to_string(::getpid()) + ".toml");
  std::ofstream(path) << "[serve]\ntokens_file = \"devices.tokens\"\n";
  std::string out;
  try {
    load_serve_config(path, sets);
  } catch (const config::ConfigError& e) {
    out = e.what();
  }
  fs::remove(path);
  return out;
}

TEST(ServeConfigRules, EveryRuleFiresAndNamesItsKey) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> rules = {
      {{"serve.listen=localhost"}, "serve.listen must be host:port"},
      {{"serve.tls_cert=\"c.pem\""}, "serve.tls_cert and tls_key go together"},
      {{"serve.tls_key=\"k.pem\""}, "serve.tls_cert and tls_key go together"},
      {{"serve.client_ca=\"ca.pem\""}, "serve.client_ca (mTLS) needs tls_cert and tls_key"},
      {{"serve.state_dir=\"\""}, "serve.state_dir must name a directory"},
      {{"serve.over_selection=0.9"}, "serve.over_selection must be in [1, 10]"},
      {{"serve.over_selection=11"}, "serve.over_selection must be in [1, 10]"},
      {{"user_dp.enabled=true"}, "serve.over_selection must be 1 with user_dp"},
      {{"serve.min_devices=-1"}, "serve.min_devices must be >= 0"},
      {{"serve.population=-1"}, "serve.population must be >= 0"},
      {{"serve.checkin_retry_ms=0"}, "serve.checkin_retry_ms must be in [1, 3600000]"},
      {{"serve.checkin_retry_ms=3600001", "serve.available_ttl_ms=4000000"}, "serve.checkin_retry_ms must be in [1, 3600000]"},
      {{"serve.checkin_retry_ms=2000", "serve.available_ttl_ms=1999"}, "serve.available_ttl_ms must be >= checkin_retry_ms"},
      {{"serve.train_deadline_ms=0"}, "serve.deadlines must be >= 1 ms"},
      {{"serve.stage_deadline_ms=0"}, "serve.deadlines must be >= 1 ms"},
      {{"serve.round_pause_ms=-1"}, "serve.round_pause_ms must be >= 0"},
      {{"serve.keep_checkpoints=0"}, "serve.keep_checkpoints must be >= 1"},
      {{"serve.tokens_file=\"\""}, "serve.tokens_file or client_ca must be set"},
      {{"serve.train_deadline_ms=3000000000"}, "serve.train_deadline_ms is out of range"},
      {{"serve.listn=\"0.0.0.0:1\""}, "unknown key serve.listn; did you mean serve.listen?"},
      {{"federation.rounds=0"}, "federation.rounds must be >= 1"},  // the shared sections are validated too
  };
  for (const auto& [sets, expected] : rules) {
    const std::string msg = error_of(sets);
    EXPECT_NE(msg.find(expected), std::string::npos) << sets.front() << "\n  got: " << (msg.empty() ? "(loaded)" : msg);
  }
  EXPECT_EQ(error_of({}), "");  // the base file is valid
  EXPECT_EQ(error_of({"user_dp.enabled=true", "serve.over_selection=1"}), "");
  EXPECT_EQ(error_of({"serve.checkin_retry_ms=3600000", "serve.available_ttl_ms=3600000"}), "");
}

}  // namespace
}  // namespace fedlora::coordinator
