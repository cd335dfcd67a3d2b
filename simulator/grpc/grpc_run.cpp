#include "simulator/grpc/grpc_run.h"

#include <signal.h>

#include <chrono>
#include <cstdarg>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "coordinator/protocol/payload.h"
#include "coordinator/service/checkpoint_store.h"
#include "coordinator/service/state_store.h"
#include "lora/adapter/adapter_io.h"
#include "lora/model/runtime.h"
#include "secure-agg/crypto/random.h"
#include "simulator/grpc/child_process.h"
#include "simulator/grpc/device_worker.h"
#include "simulator/run/personalization.h"
#include "simulator/run/round_metrics.h"
#include "simulator/run/sim_setup.h"

namespace fedlora::sim {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::string random_token() {
  std::array<std::uint8_t, 16> b{};
  secagg::crypto::SystemRandom().fill(b);
  protocol::Sha256Digest d{};
  std::copy(b.begin(), b.end(), d.begin());
  return protocol::to_hex(d).substr(0, 32);
}

// The coordinator's [serve] section for a simulated fleet: every device must have checked
// in before a round opens, so that cohorts are drawn over the whole population as in-process.
std::string serve_section(const SimConfig& cfg, const fs::path& dir, std::size_t population) {
  std::ostringstream s;
  s << "[serve]\n"
    << "listen = \"127.0.0.1:0\"\n"
    << "tokens_file = " << json((dir / "devices.tokens").string()).dump() << "\n"
    << "state_dir = " << json((dir / "state").string()).dump() << "\n"
    << "over_selection = 1.0\n"
    << "min_devices = " << population << "\n"
    << "population = " << population << "\n"
    << "checkin_retry_ms = 250\n"
    << "available_ttl_ms = 3600000\n"
    << "train_deadline_ms = 3600000\n"
    << "stage_deadline_ms = 600000\n"
    << "keep_checkpoints = " << cfg.federation.rounds + 1 << "\n"
    << "seed = " << cfg.run.seed << "\n"
    << "reproducible_noise = " << (cfg.run.reproducible_noise ? "true" : "false") << "\n";
  return s.str();
}

struct DeviceTotals {
  double loss_sum = 0;
  std::int64_t tokens = 0, clipped = 0;
  int rejected = 0, refused = 0;
};

std::map<std::uint64_t, DeviceTotals> read_device_reports(const fs::path& dir, int workers) {
  std::map<std::uint64_t, DeviceTotals> out;
  for (int w = 0; w < workers; ++w) {
    std::ifstream in(dir / ("devices-" + std::to_string(w) + ".jsonl"));
    for (std::string line; std::getline(in, line);) {
      const auto j = json::parse(line, nullptr, false);
      if (j.is_discarded()) continue;
      auto& t = out[j.value("round", std::uint64_t{0})];
      const std::string status = j.value("status", "");
      if (status == "rejected") ++t.rejected;
      if (status == "refused_budget") ++t.refused;
      const auto tokens = j.value("tokens", std::int64_t{0});
      if (tokens > 0 && status != "rejected") {
        t.loss_sum += j.value("train_loss", 0.0) * static_cast<double>(tokens);
        t.tokens += tokens;
      }
      t.clipped += j.value("clipped_values", std::int64_t{0});
    }
  }
  return out;
}

}  // namespace

SimulationSummary run_simulation_grpc(const SimConfig& cfg, const ProgressFn& progress, const fs::path& bin_dir) {
  if (cfg.federation.mode == "centralized")
    throw ConfigError("config: federation.mode = \"centralized\" has no transport; run it without --transport grpc");
  if (cfg.async.mode != "sync")
    throw ConfigError("config: server.mode = \"" + cfg.async.mode + "\" runs only in process (simulated time); run it "
                      "without --transport grpc");
  if (cfg.fleet != FleetSection{} || cfg.federation.over_selection != 1.0)
    throw ConfigError("config: [fleet] and federation.over_selection drive the in-process transport's simulated clock; "
                      "--transport grpc runs in real time (the coordinator's own serve.over_selection and deadlines "
                      "apply): remove them, or run without --transport grpc");
  const auto t0 = std::chrono::steady_clock::now();
  auto say = [&](const std::string& s) {
    if (progress) progress(s);
  };
  SimulationSummary summary;
  summary.run_dir = cfg.run.output_dir / cfg.run.name;
  summary.private_run = cfg.private_run();
  fs::create_directories(summary.run_dir);
  const SimSetup setup = set_up_simulation(cfg, progress);
  const Fleet& fleet = *setup.fleet;
  const std::size_t population = fleet.size();
  const int workers = std::max(1, std::min<int>(worker_threads(cfg), static_cast<int>(population)));
  WorkerPool pool(workers);

  lora::pin_blas_kernels_for_children();  // same kernels in every process: same rounding as in-process
  const fs::path dir = summary.run_dir / "grpc";
  fs::remove_all(dir);
  fs::create_directories(dir);
  {
    std::ofstream tokens(dir / "devices.tokens");
    for (std::size_t i = 0; i < population; ++i) tokens << virtual_device_id(i) << " " << random_token() << "\n";
  }
  {
    std::ofstream conf(dir / "coordinator.toml");
    conf << config::write_job_toml(cfg) << serve_section(cfg, dir, population);
  }
  ChildProcess coordinator({(bin_dir / "fedlora-coordinator").string(), "serve", "--config", (dir / "coordinator.toml").string(),
                            "--insecure"},
                           dir / "coordinator.log", true);
  std::string address;
  while (auto line = coordinator.read_line(std::chrono::seconds(120))) {
    if (line->rfind("listening on ", 0) == 0) {
      address = line->substr(13);
      break;
    }
  }
  if (address.empty())
    throw std::runtime_error("the coordinator did not start; see " + (dir / "coordinator.log").string());
  say("coordinator on " + address + " (log " + (dir / "coordinator.log").string() + "), " + std::to_string(workers) +
      " device worker processes for " + std::to_string(population) + " devices");

  std::vector<ChildProcess> children;
  for (int w = 0; w < workers; ++w) {
    const std::size_t b = population * static_cast<std::size_t>(w) / static_cast<std::size_t>(workers);
    const std::size_t e = population * static_cast<std::size_t>(w + 1) / static_cast<std::size_t>(workers);
    std::vector<std::string> argv{(bin_dir / "fedlora-sim").string(), "worker", cfg.source_path.string()};
    for (const auto& o : cfg.source_overrides) {
      argv.push_back("--set");
      argv.push_back(o);
    }
    for (const auto& a : std::vector<std::string>{"--devices", std::to_string(b) + ":" + std::to_string(e),
                                                  "--coordinator", address, "--tokens", (dir / "devices.tokens").string(),
                                                  "--report", (dir / ("devices-" + std::to_string(w) + ".jsonl")).string(),
                                                  "--state", (dir / ("worker-" + std::to_string(w))).string()})
      argv.push_back(a);
    children.emplace_back(argv, dir / ("worker-" + std::to_string(w) + ".log"), false);
  }

  std::ofstream metrics(summary.run_dir / "metrics.jsonl", std::ios::trunc);
  const auto theta0 = Eigen::Map<const Eigen::VectorXf>(setup.theta0.data(), static_cast<Eigen::Index>(setup.theta0.size()));
  summary.before = evaluate_global(pool, setup.base, *setup.layout, theta0, fleet, 0, eval_options(cfg, setup));
  metrics << json{{"round", 0}, {"eval", eval_json(summary.before)}}.dump() << "\n";
  say("round   0  base model       eval acc " + std::to_string(summary.before.accuracy));

  // Follow the coordinator's commits; evaluate the committed adapters that are due.
  const coordinator::CheckpointStore checkpoints(dir / "state");
  std::uint64_t seen = 0;
  EvalPoint last_eval = summary.before;
  std::map<std::uint64_t, json> evals;
  std::vector<coordinator::StoredRound> rows;
  auto last_commit = std::chrono::steady_clock::now();
  std::map<std::uint64_t, double> wall;
  for (bool running = true; running;) {
    running = !coordinator.poll().has_value();
    if (!fs::exists(dir / "state" / "coordinator.sqlite")) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      continue;
    }
    const auto store = coordinator::StateStore::open_existing(dir / "state");
    for (std::uint64_t r = seen + 1; r <= store.committed_round(); ++r) {
      auto row = store.round(r);
      if (!row) break;
      const auto now = std::chrono::steady_clock::now();
      wall[r] = std::chrono::duration<double>(now - last_commit).count();
      last_commit = now;
      if (static_cast<int>(r) % cfg.federation.eval_every == 0 || static_cast<int>(r) == cfg.federation.rounds) {
        const auto flat = lora::read_adapter_weights(checkpoints.dir_of(r), *setup.layout);
        last_eval = evaluate_global(pool, setup.base, *setup.layout,
                                    Eigen::Map<const Eigen::VectorXf>(flat.data(), static_cast<Eigen::Index>(flat.size())),
                                    fleet, static_cast<std::int64_t>(r), eval_options(cfg, setup));
        evals[r] = eval_json(last_eval);
      }
      say("round " + std::to_string(r) + "/" + std::to_string(cfg.federation.rounds) +
          (row->aborted ? "  ABORTED: " + row->abort_reason : "  " + std::to_string(row->contributors) + " contributors") +
          (evals.count(r) ? "  eval acc " + std::to_string(last_eval.accuracy) : ""));
      rows.push_back(std::move(*row));
      seen = r;
    }
    if (running) std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  const int code = coordinator.wait();
  for (auto& c : children) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (!c.poll() && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    c.signal(SIGTERM);
    c.wait();
  }
  if (code != 0) throw std::runtime_error("the coordinator exited with " + std::to_string(code) + "; see " + (dir / "coordinator.log").string());
  if (rows.empty()) throw std::runtime_error("no round was committed; see " + (dir / "coordinator.log").string());

  const auto devices = read_device_reports(dir, workers);
  for (const auto& row : rows) {
    json line = json::parse(row.metrics_json);
    line.erase("private");
    const auto it = devices.find(row.round);
    const DeviceTotals t = it == devices.end() ? DeviceTotals{} : it->second;
    line["dropped"] = 0;
    line["rejected_updates"] = t.rejected;
    line["train_loss"] = t.tokens ? t.loss_sum / static_cast<double>(t.tokens) : 0.0;
    line["train_tokens"] = t.tokens;
    if (line.contains("secagg")) line["secagg"]["clipped_values"] = t.clipped;
    if (evals.count(row.round)) line["eval"] = evals[row.round];
    line["wall_s"] = wall[row.round];
    metrics << line.dump() << "\n";
    summary.bytes_up += line.value("bytes_up", std::int64_t{0});
    summary.bytes_down += line.value("bytes_down", std::int64_t{0});
    if (row.aborted) ++summary.rounds_aborted;
    else ++summary.rounds_completed;
    if (line.contains("user_dp"))
      summary.user_dp = json{{"mechanism", cfg.user_dp.mechanism},
                             {"delta", line["user_dp"]["delta"]},
                             {"epsilon", line["user_dp"]["epsilon"]}};
  }
  const std::uint64_t last = rows.back().round;
  const auto theta = lora::read_adapter_weights(checkpoints.dir_of(last), *setup.layout);
  if (last_eval.round != static_cast<std::int64_t>(last))
    last_eval = evaluate_global(pool, setup.base, *setup.layout,
                                Eigen::Map<const Eigen::VectorXf>(theta.data(), static_cast<Eigen::Index>(theta.size())), fleet,
                                static_cast<std::int64_t>(last), eval_options(cfg, setup));
  summary.after = last_eval;
  summary.personalization = run_personalization(cfg, setup, pool, theta, summary.run_dir, progress);
  write_run_outputs(cfg, setup, theta, static_cast<std::int64_t>(last), workers, -1.0, summary,
                    std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  return summary;
}

}  // namespace fedlora::sim
