#pragma once
// `fedlora-coordinator serve`: the gRPC server around RoundService, with TLS by default,
// mTLS or bearer-token authentication, the standard grpc.health.v1 service, and signal
// handling (SIGTERM/SIGINT drain the open round, commit, and exit 0).
#include <string>
#include <vector>

namespace fedlora::coordinator {

struct ServeOptions {
  std::string config_path;
  std::vector<std::string> overrides;  ///< --set section.key=value
  bool insecure = false;               ///< plaintext (logs a warning)
};

/// Runs the service until the job is done or a signal arrives. Returns the process exit code.
/// Prints "listening on HOST:PORT" once the port is bound (port 0 picks a free one).
int serve(const ServeOptions& options);

/// `fedlora-coordinator status --state DIR`: round, cohort progress, devices seen, ε spent.
/// Returns the exit code; prints JSON with `json`.
int print_status(const std::string& state_dir, bool json);

}  // namespace fedlora::coordinator
