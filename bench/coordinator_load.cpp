// Load test of the deployed coordinator (not a Google Benchmark: it drives processes).
//
// A fedlora-coordinator child process on loopback and N virtual devices in this process,
// each with its own gRPC channel, bearer token and identity key. The devices skip training:
// each sends a synthetic update of the job's adapter size (random values in ±0.01) as a
// plain upload or through SecAgg+. Reported per configuration: round wall time p50/p99 (the
// coordinator's open → commit), coordinator CPU seconds and peak RSS (getrusage of the
// child), and bytes of payload up and down.
//
//   coordinator_load --devices 1000 --rounds 8 [--secagg] [--bin build/bin] [--base models/base.gguf]
#include <sys/resource.h>
#include <sys/wait.h>

#include <CLI/CLI.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "client/runtime/coordinator_link.h"
#include "coordinator/protocol/instructions_wire.h"
#include "coordinator/protocol/payload.h"
#include "secure-agg/client_policy.h"
#include "secure-agg/client_state_machine.h"
#include "secure-agg/crypto/ed25519.h"
#include "secure-agg/fixed_point.h"
#include "simulator/grpc/child_process.h"

namespace fs = std::filesystem;
using namespace fedlora;
using nlohmann::json;

namespace {

struct Options {
  int devices = 1000;
  int rounds = 8;
  bool secagg = false;
  int graph_seed_work = 14;
  fs::path bin = "build/bin";
  fs::path base = "models/base.gguf";
  fs::path work = "runs/coordinator_load";
};

// One virtual device: check in, take the task, send a synthetic update, repeat.
void run_device(int i, const std::string& address, const Options& o, const protocol::Sha256Digest& base_sha,
                std::atomic<int>& failures, const std::atomic<bool>& finished) {
  client::LinkOptions lo;
  lo.address = address;
  lo.insecure = true;
  lo.token = "load-token-" + std::to_string(i) + "-0123456789";
  lo.call_timeout = std::chrono::minutes(5);
  client::CoordinatorLink link(lo);
  secagg::crypto::SystemRandom os;
  const auto identity = secagg::crypto::Ed25519PrivateKey::generate(os);
  const auto pk = identity.public_key();
  std::mt19937_64 rng(static_cast<std::uint64_t>(i) * 7919 + 1);
  std::uniform_real_distribution<float> value(-0.01f, 0.01f);
  while (!finished) {  // the coordinator exits after its last round: stop retrying then
    v1::CheckInRequest req;
    req.set_device_id("load" + std::to_string(i));
    req.set_base_model_sha256(base_sha.data(), base_sha.size());
    req.set_num_examples(10);
    req.set_identity_public_key(pk.data(), pk.size());
    v1::CheckInResponse resp;
    try {
      resp = link.check_in(req);
    } catch (const client::LinkError& e) {
      if (!e.transient()) {
        ++failures;
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(200 + rng() % 300));
      continue;
    }
    if (resp.has_retry()) {
      if (resp.retry().reason() == "the job is finished") return;
      std::this_thread::sleep_for(std::chrono::milliseconds(resp.retry().retry_after_ms() + rng() % 200));
      continue;
    }
    try {
      const auto& task = resp.task();
      const auto in = protocol::from_proto(task.instructions());
      link.download(task.round(), task.round_token(), task.adapter());
      std::vector<float> values(static_cast<std::size_t>(in.upload_length()));
      for (auto& v : values) v = value(rng);
      const double w = in.weighting.weight(10);
      if (!in.secagg) {
        for (auto& v : values) v = static_cast<float>(v * w);
        link.upload(task.round(), task.round_token(), protocol::PlainUpload{std::move(values), w});
        continue;
      }
      const secagg::FixedPointCodec codec(in.secagg->fixed_point);
      auto policy = secagg::ClientPolicy::for_threat({0.05, 0.1});  // the job's [secagg] threat model
      policy.min_graph_seed_work = static_cast<unsigned>(o.graph_seed_work);
      secagg::ClientStateMachine sm(*in.secagg->config, identity, policy);
      sm.set_input(codec.encode(values, os, in.secagg->fixed_point.weight_clip ? std::optional<double>(w) : std::nullopt));
      auto stream = link.open_secagg(task.round(), task.round_token(), std::chrono::system_clock::now() + std::chrono::minutes(10));
      stream->send(sm.start());
      while (auto m = stream->receive()) {
        if (auto step = sm.handle(m->first); step.reply) stream->send(*step.reply);
        if (!sm.awaiting()) break;
      }
      stream->finish();
    } catch (const std::exception& e) {
      if (finished) return;
      std::fprintf(stderr, "device %d: %s\n", i, e.what());
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
  }
}

double percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  const double idx = p * static_cast<double>(v.size() - 1);
  const auto lo = static_cast<std::size_t>(idx);
  const auto hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (idx - static_cast<double>(lo)) * (v[hi] - v[lo]);
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App app{"coordinator_load: N virtual devices against one fedlora-coordinator on loopback"};
  app.add_option("--devices", o.devices, "concurrent virtual devices (= cohort)");
  app.add_option("--rounds", o.rounds, "rounds to run");
  app.add_flag("--secagg", o.secagg, "aggregate through SecAgg+ (Harary graph from the parameter finder)");
  app.add_option("--graph-seed-work", o.graph_seed_work, "SecAgg+ graph seed cost (log2 scrypt N; 14 = default)");
  app.add_option("--bin", o.bin, "directory of fedlora-coordinator");
  app.add_option("--base", o.base, "base model GGUF (the adapter size follows from it)");
  app.add_option("--work", o.work, "scratch directory");
  CLI11_PARSE(app, argc, argv);

  fs::remove_all(o.work);
  fs::create_directories(o.work);
  {
    std::ofstream tokens(o.work / "devices.tokens");
    for (int i = 0; i < o.devices; ++i) tokens << "load" << i << " load-token-" << i << "-0123456789\n";
    std::ofstream conf(o.work / "coordinator.toml");
    conf << "[model]\nbase = \"" << fs::absolute(o.base).string() << "\"\n"
         << "[lora]\nrank = 8\nalpha = 16.0\n"  // the main job's adapter: 155,648 floats on the committed base
         << "[federation]\nrounds = " << o.rounds << "\ncohort_size = " << o.devices << "\n"
         << "[secagg]\nenabled = " << (o.secagg ? "true" : "false") << "\ngraph_seed_work = " << o.graph_seed_work << "\n"
         << "[serve]\nlisten = \"127.0.0.1:0\"\ntokens_file = \"" << fs::absolute(o.work / "devices.tokens").string()
         << "\"\nstate_dir = \"" << fs::absolute(o.work / "state").string() << "\"\nover_selection = 1.0\n"
         << "checkin_retry_ms = 500\navailable_ttl_ms = 600000\nstage_deadline_ms = 120000\n";
  }
  sim::ChildProcess coordinator({(o.bin / "fedlora-coordinator").string(), "serve", "--config",
                                 (o.work / "coordinator.toml").string(), "--insecure"},
                                o.work / "coordinator.log", true);
  std::string address;
  while (auto line = coordinator.read_line(std::chrono::seconds(60)))
    if (line->rfind("listening on ", 0) == 0) {
      address = line->substr(13);
      break;
    }
  if (address.empty()) {
    std::cerr << "coordinator did not start; see " << (o.work / "coordinator.log") << "\n";
    return 1;
  }
  const auto base_sha = protocol::sha256_of_file(o.base);
  const auto t0 = std::chrono::steady_clock::now();
  std::atomic<int> failures{0};
  std::atomic<bool> finished{false};
  std::vector<std::thread> threads;
  for (int i = 0; i < o.devices; ++i)
    threads.emplace_back(run_device, i, address, std::cref(o), std::cref(base_sha), std::ref(failures),
                         std::cref(finished));
  const int code = coordinator.wait();
  finished = true;
  for (auto& t : threads) t.join();
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  rusage ru{};
  getrusage(RUSAGE_CHILDREN, &ru);
  const double cpu_s = static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
                       1e-6 * static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
  std::vector<double> walls;
  std::int64_t up = 0, down = 0;
  int aborted = 0;
  std::ifstream metrics(o.work / "state" / "metrics.jsonl");
  for (std::string line; std::getline(metrics, line);) {
    const auto j = json::parse(line);
    walls.push_back(j.value("wall_s", 0.0));
    up += j.value("bytes_up", std::int64_t{0});
    down += j.value("bytes_down", std::int64_t{0});
    aborted += j.value("aborted", false) ? 1 : 0;
  }
  if (code != 0 || walls.empty()) {
    std::cerr << "coordinator exited with " << code << "; see " << (o.work / "coordinator.log") << "\n";
    return 1;
  }
  const json out{{"devices", o.devices},
                 {"secagg", o.secagg},
                 {"graph_seed_work", o.secagg ? o.graph_seed_work : 0},
                 {"rounds", walls.size()},
                 {"rounds_aborted", aborted},
                 {"round_wall_s_p50", percentile(walls, 0.5)},
                 {"round_wall_s_p99", percentile(walls, 0.99)},
                 {"round_wall_s_max", *std::max_element(walls.begin(), walls.end())},
                 {"coordinator_cpu_s", cpu_s},
                 {"coordinator_cpu_s_per_round", cpu_s / static_cast<double>(walls.size())},
                 {"coordinator_peak_rss_mb", static_cast<double>(ru.ru_maxrss) / 1024.0},
                 {"payload_mb_up_per_round", static_cast<double>(up) / 1e6 / static_cast<double>(walls.size())},
                 {"payload_mb_down_per_round", static_cast<double>(down) / 1e6 / static_cast<double>(walls.size())},
                 {"device_failures", failures.load()},
                 {"total_wall_s", wall}};
  std::cout << out.dump(2) << std::endl;
  return failures.load() == 0 ? 0 : 1;
}
