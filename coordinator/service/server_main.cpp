#include "coordinator/service/server_main.h"

#include <grpcpp/ext/health_check_service_server_builder_option.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <signal.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "coordinator/service/federation_service.h"
#include "coordinator/service/round_service.h"
#include "coordinator/service/serve_config.h"
#include "coordinator/service/state_store.h"

namespace fedlora::coordinator {
namespace {

std::string read_file(const std::filesystem::path& p, const char* what) {
  std::ifstream in(p);
  if (!in) throw config::ConfigError(std::string("cannot read ") + what + " " + p.string());
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::shared_ptr<grpc::ServerCredentials> credentials(const ServeConfig& c, bool insecure) {
  if (insecure) {
    spdlog::warn("--insecure: plaintext gRPC; device tokens and updates cross the network unencrypted");
    return grpc::InsecureServerCredentials();
  }
  if (c.serve.tls_cert.empty())
    throw config::ConfigError("TLS is on by default: set serve.tls_cert and serve.tls_key, or pass --insecure for a "
                              "plaintext test deployment");
  grpc::SslServerCredentialsOptions opts(c.serve.client_ca.empty()
                                             ? GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE
                                             : GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  opts.pem_key_cert_pairs.push_back({read_file(c.serve.tls_key, "serve.tls_key"), read_file(c.serve.tls_cert, "serve.tls_cert")});
  if (!c.serve.client_ca.empty()) opts.pem_root_certs = read_file(c.serve.client_ca, "serve.client_ca");
  return grpc::SslServerCredentials(opts);
}

}  // namespace

int serve(const ServeOptions& options) {
#ifdef __GLIBC__
  // Few malloc arenas: gRPC's many threads otherwise each fragment their own arena, and at
  // 1000 SecAgg+ devices the RSS was 337 MB for a 168 MB heap peak (204 MB with 2 arenas,
  // at no measured CPU cost). Must run before any thread starts.
  mallopt(M_ARENA_MAX, 2);
#endif
  // Signals go to one waiting thread, never to an arbitrary gRPC thread.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGUSR1);  // wakes the waiter when the job ends on its own
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  const ServeConfig cfg = load_serve_config(options.config_path, options.overrides);
  if (options.insecure && !cfg.serve.client_ca.empty())
    throw config::ConfigError("serve.client_ca (mTLS) cannot be combined with --insecure");
  RoundService rounds(cfg);
  FederationService service(rounds, AuthPolicy{!cfg.serve.tokens_file.empty(), !cfg.serve.client_ca.empty()});

  grpc::EnableDefaultHealthCheckService(true);
  grpc::ServerBuilder builder;
  // Memory does not follow the number of connections: no BDP-driven growth of each
  // connection's HTTP/2 receive window (a thousand devices × megabytes each).
  builder.AddChannelArgument(GRPC_ARG_HTTP2_BDP_PROBE, 0);
  int port = 0;
  builder.AddListeningPort(cfg.serve.listen, credentials(cfg, options.insecure), &port);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server || port == 0) throw std::runtime_error("cannot listen on " + cfg.serve.listen + " (address in use?)");
  server->GetHealthCheckService()->SetServingStatus(true);
  const std::string host = cfg.serve.listen.substr(0, cfg.serve.listen.rfind(':'));
  std::printf("listening on %s:%d\n", host.c_str(), port);
  std::fflush(stdout);

  std::atomic<bool> stop{false}, signalled{false};
  std::thread waiter([&] {
    int sig = 0;
    sigwait(&signals, &sig);
    if (sig == SIGUSR1) return;  // woken to exit
    spdlog::info("signal {}: draining", sig);
    signalled = true;
    stop = true;
  });
  rounds.run(stop);
  if (signalled) {
    rounds.drain("coordinator shutting down (signal)");
  } else {
    // Job done: keep answering "the job is finished" for a few retry windows so that
    // devices can stop cleanly instead of backing off against a closed port.
    const auto linger = std::chrono::milliseconds(std::min(3 * cfg.serve.checkin_retry_ms, 10'000));
    const auto until = std::chrono::steady_clock::now() + linger;
    while (!stop && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  server->GetHealthCheckService()->SetServingStatus(false);
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
  if (!signalled) pthread_kill(waiter.native_handle(), SIGUSR1);
  waiter.join();
  spdlog::info("{} rounds committed; state in {}", rounds.committed_round(), cfg.serve.state_dir.string());
  return 0;
}

int print_status(const std::string& state_dir, bool as_json) {
  const auto store = StateStore::open_existing(state_dir);
  auto p = nlohmann::json::parse(store.progress());
  const auto rounds = store.rounds();
  int aborted = 0;
  for (const auto& r : rounds) aborted += r.aborted ? 1 : 0;
  p["rounds_committed"] = rounds.size();
  p["rounds_aborted"] = aborted;
  if (as_json) {
    std::cout << p.dump(2) << "\n";
    return 0;
  }
  std::cout << "rounds committed: " << rounds.size() << " of " << p.value("rounds", 0) << " (" << aborted << " aborted)\n";
  if (p.contains("open_round"))
    std::cout << "open round: " << p["open_round"] << ", stage " << p["stage"].get<std::string>() << ", "
              << p["reported"] << " of " << p["cohort"] << " devices reported\n";
  else
    std::cout << "no round open\n";
  std::cout << "devices: " << p.value("devices_seen", 0) << " seen, " << p.value("devices_enrolled", 0) << " enrolled\n";
  if (p.contains("user_epsilon")) {
    const auto& e = p["user_epsilon"];
    std::cout << "user-level epsilon at delta " << e["delta"] << ":\n"
              << "  against anyone who sees only the released adapters: " << e["released_model"]["epsilon"]
              << " (assumes " << e["released_model"]["assumes"].get<std::string>() << ")\n"
              << "  against this coordinator: " << e["coordinator"]["epsilon"] << " for the most exposed user ("
              << e["coordinator"]["max_participations_seen"] << " participations at most), worst case "
              << e["coordinator"]["worst_case_epsilon"] << " (assumes " << e["coordinator"]["assumes"].get<std::string>()
              << ")\n";
  }
  return 0;
}

}  // namespace fedlora::coordinator
