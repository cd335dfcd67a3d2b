// fedlora-sim: run a simulated federated fine-tuning job from a TOML configuration.
#include <CLI/CLI.hpp>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <iostream>

#include "lora/model/runtime.h"
#include "simulator/config/sim_config.h"
#include "simulator/grpc/device_worker.h"
#include "simulator/grpc/grpc_run.h"
#include "simulator/multi/rank_group.h"
#include "simulator/multi/rank_worker.h"
#include "simulator/report/plot_runs.h"
#include "simulator/report/compare_runs.h"
#include "simulator/run/simulation.h"

namespace {
std::filesystem::path own_dir() {
  char buf[4096];
  const ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) throw std::runtime_error("cannot locate the fedlora-sim binary (/proc/self/exe)");
  buf[n] = '\0';
  return std::filesystem::path(buf).parent_path();
}
}  // namespace

int main(int argc, char** argv) {
  fedlora::lora::ensure_fast_blas_kernels(argv);
  CLI::App app{"fedlora-sim: simulate federated LoRA fine-tuning over a fleet of virtual devices"};
  app.require_subcommand(1);
  std::string config_path, name, transport = "inproc";
  std::vector<std::string> sets;
  auto* run = app.add_subcommand("run", "run the job described by a TOML config (see configs/)");
  run->add_option("config", config_path, "TOML run configuration")->required();
  run->add_option("--set", sets, "override a key: --set section.key=value (repeatable)");
  run->add_option("--name", name, "run name: outputs go to runs/<name>/");
  run->add_option("--transport", transport,
                  "inproc: devices in this process; grpc: a fedlora-coordinator process and device worker "
                  "processes on 127.0.0.1")
      ->check(CLI::IsMember({"inproc", "grpc"}));
  fedlora::sim::RankSpec ranks;
  std::string master;
  run->add_option("--world-size", ranks.world_size,
                  "processes that run this one simulation together (on any machines; c10d/Gloo); default 1")
      ->check(CLI::Range(1, 4096));
  run->add_option("--rank", ranks.rank, "this process's rank in 0..world-size-1; rank 0 runs the coordinator");
  run->add_option("--master", master, "HOST:PORT where rank 0 listens (with --world-size > 1)");
  int rank_timeout_s = 3600;
  run->add_option("--rank-timeout", rank_timeout_s,
                  "seconds a rank waits for another (rank 0 evaluating keeps the others waiting); default 3600")
      ->check(CLI::PositiveNumber);
  bool resume = false;
  run->add_flag("--resume", resume,
                "continue a killed run from its last checkpoint in runs/<name>/ (same config; not for dp_ftrl or "
                "--transport grpc)");

  fedlora::sim::WorkerOptions w;
  std::string devices;
  auto* worker = app.add_subcommand("worker", "host virtual devices against a coordinator (started by --transport grpc)");
  worker->add_option("config", config_path, "TOML run configuration")->required();
  worker->add_option("--set", sets, "override a key (as given to run)");
  worker->add_option("--devices", devices, "device indices BEGIN:END")->required();
  worker->add_option("--coordinator", w.coordinator, "coordinator host:port")->required();
  worker->add_option("--tokens", w.tokens_file, "device token file")->required();
  worker->add_option("--report", w.report, "JSONL report of participations")->required();
  worker->add_option("--state", w.state_dir, "worker state directory")->required();
  std::vector<std::string> plot_runs_args;
  std::string plot_out;
  auto* plot = app.add_subcommand("plot", "held-out accuracy and loss per round of runs in one PNG (gnuplot)");
  plot->add_option("runs", plot_runs_args, "run folders (runs/<name>)")->required();
  plot->add_option("--out", plot_out, "PNG file to write")->required();
  std::string plot_x = "round";
  plot->add_option("--x", plot_x, "x axis: round, or sim-minutes (the simulated clock)")
      ->check(CLI::IsMember({"round", "sim-minutes"}));
  std::vector<std::string> compare_runs_args;
  std::optional<double> compare_target;
  auto* compare = app.add_subcommand("compare", "a Markdown table of runs: accuracy, perplexity, bytes up, rounds to a target");
  compare->add_option("runs", compare_runs_args, "run folders (runs/<name>)")->required();
  compare->add_option("--target-accuracy", compare_target, "held-out next-token accuracy to count rounds to");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  try {
    if (*plot) {
      const auto r = fedlora::sim::plot_runs(std::vector<std::filesystem::path>(plot_runs_args.begin(), plot_runs_args.end()),
                                             plot_out,
                                             plot_x == "round" ? fedlora::sim::PlotAxis::round
                                                               : fedlora::sim::PlotAxis::sim_minutes);
      (r.drawn ? std::cout : std::cerr) << "fedlora-sim plot: " << r.message << std::endl;
      return r.drawn ? 0 : 1;
    }
    if (*compare) {
      std::vector<fedlora::sim::RunComparison> rows;
      for (const auto& r : compare_runs_args)
        rows.push_back(fedlora::sim::compare_row(fedlora::sim::read_run_curve(r), compare_target));
      std::cout << fedlora::sim::comparison_markdown(rows, compare_target);
      return 0;
    }
    const auto cfg = fedlora::sim::load_sim_config(config_path, sets, name);
    if (*worker) {
      const auto colon = devices.find(':');
      if (colon == std::string::npos) throw std::runtime_error("--devices must be BEGIN:END");
      w.begin = std::stoul(devices.substr(0, colon));
      w.end = std::stoul(devices.substr(colon + 1));
      return fedlora::sim::run_device_worker(cfg, w);
    }
    if (ranks.world_size > 1) {
      if (transport != "inproc") throw std::runtime_error("--world-size > 1 needs --transport inproc");
      if (master.empty()) throw std::runtime_error("--world-size > 1 needs --master HOST:PORT (rank 0's address)");
      ranks.set_master(master);
      ranks.timeout = std::chrono::seconds(rank_timeout_s);
      ranks.validate();
      if (ranks.rank == 0) fedlora::sim::refuse_for_ranks(cfg, resume);
      fedlora::sim::RankGroup group(ranks);
      auto print = [&](const std::string& line) { std::cout << line << std::endl; };
      if (ranks.rank != 0) {
        fedlora::sim::run_rank_worker(cfg, group, print);
        return 0;
      }
      fedlora::sim::RunOptions options;
      options.ranks = &group;
      const auto s = fedlora::sim::run_simulation(cfg, print, options);
      std::printf("done: next-token accuracy %.4f -> %.4f (%+.4f), perplexity %.2f -> %.2f, %.1f s, peak RSS %.0f MB "
                  "(rank 0 of %d)\n",
                  s.before.accuracy, s.after.accuracy, s.after.accuracy - s.before.accuracy, s.before.perplexity,
                  s.after.perplexity, s.wall_s, static_cast<double>(s.peak_rss_bytes) / 1e6, ranks.world_size);
      std::printf("outputs: %s/{metrics.jsonl,summary.json,adapter/}\n", s.run_dir.c_str());
      return 0;
    }
    if (ranks.rank != 0) throw std::runtime_error("--rank needs --world-size > 1");
    if (resume && transport == "grpc")
      throw std::runtime_error("--resume needs --transport inproc (a grpc run restarts its coordinator from its own "
                               "state directory)");
    auto print = [](const std::string& line) { std::cout << line << std::endl; };
    const auto s = transport == "grpc" ? fedlora::sim::run_simulation_grpc(cfg, print, own_dir())
                                       : fedlora::sim::run_simulation(cfg, print, {resume});
    std::printf("done: next-token accuracy %.4f -> %.4f (%+.4f), perplexity %.2f -> %.2f, %.1f s, peak RSS %.0f MB\n",
                s.before.accuracy, s.after.accuracy, s.after.accuracy - s.before.accuracy, s.before.perplexity,
                s.after.perplexity, s.wall_s, static_cast<double>(s.peak_rss_bytes) / 1e6);
    std::printf("outputs: %s/{metrics.jsonl,summary.json,adapter/}\n", s.run_dir.c_str());
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "fedlora-sim: error: " << e.what() << std::endl;
    return 1;
  }
}
