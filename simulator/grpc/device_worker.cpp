#include "simulator/grpc/device_worker.h"

#include <csignal>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "client/runtime/device_runtime.h"
#include "coordinator/protocol/payload.h"
#include "coordinator/protocol/seeds.h"
#include "lora/model/runtime.h"
#include "simulator/run/inproc_transport.h"
#include "simulator/run/sim_setup.h"

namespace fedlora::sim {
namespace {

std::atomic<bool> g_stop{false};
void on_signal(int) { g_stop = true; }

std::map<std::string, std::string> read_tokens(const std::filesystem::path& p) {
  std::ifstream in(p);
  if (!in) throw std::runtime_error("cannot read " + p.string());
  std::map<std::string, std::string> t;
  std::string device, token;
  while (in >> device >> token) t[device] = token;
  return t;
}

}  // namespace

std::string virtual_device_id(std::size_t index) { return "device-" + std::to_string(index); }

int run_device_worker(const SimConfig& cfg, const WorkerOptions& o) {
  std::signal(SIGTERM, on_signal);
  lora::keep_freed_memory_in_heap();  // steps reuse their activation buffers
  const SimSetup setup = set_up_simulation(cfg, nullptr);
  const Fleet& fleet = *setup.fleet;
  if (o.end > fleet.size() || o.begin >= o.end)
    throw ConfigError("worker: devices " + std::to_string(o.begin) + ":" + std::to_string(o.end) +
                      " are not a range of the fleet's " + std::to_string(fleet.size()));
  const auto tokens = read_tokens(o.tokens_file);
  const auto base_sha = protocol::sha256_of_file(cfg.model.base);
  std::optional<privacy::PrivacyLedger> ledger;
  if (cfg.dp_sgd.enabled) {
    std::filesystem::create_directories(o.state_dir);
    ledger.emplace(privacy::PrivacyLedger::open(o.state_dir / "privacy_ledger.sqlite"));
  }
  const auto research = cfg.private_run() ? std::nullopt : std::optional<std::uint64_t>(cfg.run.seed);
  const auto identities = virtual_identities(fleet.size(), research);
  const auto policy = virtual_device_policy(cfg.secagg);
  std::mutex train_mu, report_mu;
  std::ofstream report(o.report, std::ios::app);
  std::vector<std::thread> threads;
  int failures = 0;
  for (std::size_t i = o.begin; i < o.end; ++i) {
    threads.emplace_back([&, i] {
      lora::set_compute_threads(1);
      const std::string id = virtual_device_id(i);
      client::DeviceContext device;
      device.base = setup.base;
      device.base_model_sha256 = base_sha;
      const auto held = fleet.examples(i);  // this worker's devices live as long as it runs
      device.train_examples = &held->train;
      device.ledger = ledger ? &*ledger : nullptr;
      if (ledger) device.privacy = client::DevicePrivacy{std::to_string(i), {cfg.dp_sgd.epsilon, cfg.dp_sgd.delta}};
      device.randomness = client::DeviceRandomness{research, i};
      device.identity = &identities[i];
      device.secagg_policy = policy;
      if (cfg.memory_budget_mb > 0) device.memory_budget_mb = cfg.memory_budget_mb;
      device.base_gemm = cfg.base_matmul;
      client::LinkOptions lo;
      lo.address = o.coordinator;
      lo.insecure = true;
      lo.token = tokens.at(id);
      client::CoordinatorLink link(lo);
      client::RuntimeOptions ro;
      ro.device_id = id;
      ro.runtime_version = "fedlora-sim worker";
      ro.min_backoff = std::chrono::milliseconds(50);
      ro.max_backoff = std::chrono::milliseconds(2000);
      ro.jitter_seed = protocol::derive_seed(cfg.run.seed, {0x717, i}) | 1;
      ro.train_gate = [&](const std::function<void()>& f) {
        std::lock_guard g(train_mu);
        f();
      };
      client::DeviceRuntime rt(ro, link, device, nullptr);
      rt.on_participation = [&](const client::Participation& p) {
        const nlohmann::json line{{"device", i},
                                  {"round", p.round},
                                  {"status", client::to_string(p.report.status)},
                                  {"train_loss", p.report.train_loss},
                                  {"tokens", p.report.tokens},
                                  {"example_epsilon", p.report.example_epsilon},
                                  {"clipped_values", p.report.clipped_values}};
        std::lock_guard g(report_mu);
        report << line.dump() << "\n";
        report.flush();
      };
      rt.log = [&](const std::string& s) {
        std::lock_guard g(report_mu);
        std::cerr << s << "\n";
      };
      try {
        rt.run(g_stop);
      } catch (const std::exception& e) {
        std::lock_guard g(report_mu);
        std::cerr << id << ": stopped: " << e.what() << "\n";
        ++failures;
      }
    });
  }
  for (auto& t : threads) t.join();
  return failures == 0 ? 0 : 1;
}

}  // namespace fedlora::sim
