// fedlora-coordinator: the deployed coordinator (serve) and its status.
#include <CLI/CLI.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <iostream>

#include "coordinator/service/server_main.h"

int main(int argc, char** argv) {
  CLI::App app{"fedlora-coordinator: serve federated rounds to devices over gRPC"};
  app.require_subcommand(1);
  fedlora::coordinator::ServeOptions opts;
  auto* serve = app.add_subcommand("serve", "run the coordinator for the job in a TOML config (see configs/coordinator.toml)");
  serve->add_option("--config", opts.config_path, "TOML configuration: the job's sections plus [serve]")->required();
  serve->add_option("--set", opts.overrides, "override a key: --set section.key=value (repeatable)");
  serve->add_flag("--insecure", opts.insecure, "plaintext gRPC without TLS (test deployments only; logs a warning)");
  std::string state_dir;
  bool json = false;
  auto* status = app.add_subcommand("status", "show the job's progress from its state directory");
  status->add_option("--state", state_dir, "the coordinator's serve.state_dir")->required();
  status->add_flag("--json", json, "print JSON");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  // Logs go to stderr; stdout carries only the "listening on" line that scripts wait for.
  spdlog::set_default_logger(spdlog::stderr_color_mt("fedlora-coordinator"));
  try {
    if (*serve) return fedlora::coordinator::serve(opts);
    return fedlora::coordinator::print_status(state_dir, json);
  } catch (const std::exception& e) {
    std::cerr << "fedlora-coordinator: error: " << e.what() << std::endl;
    return 1;
  }
}
