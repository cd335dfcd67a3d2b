#include "tests/e2e/deployment_harness.h"

#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "tests/e2e/tiny_model.h"

#ifndef FEDLORA_BIN_DIR
#error "FEDLORA_BIN_DIR must point at the built binaries"
#endif

namespace fedlora::test {
namespace fs = std::filesystem;

Deployment::Deployment(int devices, const std::string& job_toml, const std::string& extra_serve) : devices_(devices) {
  write_tiny_model(dir_ / "tiny.gguf", 3);
  std::vector<std::string> names;
  const char* styles[] = {"the cat sat on the mat and the cat sat again", "to be or not to be, that is it",
                          "abc abc abc def def def abc abc def", "one two three four five six seven",
                          "red green blue red green blue", "lorem ipsum dolor sit amet"};
  std::ofstream tokens(dir_ / "devices.tokens");
  for (int i = 0; i < devices; ++i) {
    names.push_back(device(i));
    tokens << device(i) << " token-of-device-" << i << "-0123456789\n";
    std::ofstream(dir_ / (device(i) + ".token")) << "token-of-device-" << i << "-0123456789\n";
    std::ofstream text(dir_ / (device(i) + ".txt"));
    for (int d = 0; d < 12; ++d) text << styles[i % 6] << " " << d << "\n\n";
  }
  tokens.close();
  pki_ = make_test_pki(dir_ / "pki", names);
  port_ = free_port();
  std::ofstream conf(dir_ / "coordinator.toml");
  conf << "[model]\nbase = \"" << (dir_ / "tiny.gguf").string() << "\"\nquantize = \"f32\"\n"
       << job_toml << "\n[serve]\nlisten = \"127.0.0.1:" << port_ << "\"\n"
       << "tls_cert = \"" << pki_.server_cert.string() << "\"\ntls_key = \"" << pki_.server_key.string() << "\"\n"
       << "tokens_file = \"" << (dir_ / "devices.tokens").string() << "\"\n"
       << "state_dir = \"" << state_dir().string() << "\"\n"
       << "checkin_retry_ms = 100\n" << extra_serve << "\n";
}

std::string Deployment::log_of(const std::string& name) const {
  std::ifstream in(dir_ / (name + ".log"));
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

namespace {
struct ArmedFailpoint {
  explicit ArmedFailpoint(const std::string& name) {
    if (!name.empty()) ::setenv("FEDLORA_FAILPOINT", name.c_str(), 1);
  }
  ~ArmedFailpoint() { ::unsetenv("FEDLORA_FAILPOINT"); }
};
}  // namespace

std::unique_ptr<sim::ChildProcess> Deployment::start_coordinator(const std::string& failpoint, bool insecure) {
  ArmedFailpoint armed(failpoint);
  std::vector<std::string> argv{fs::path(FEDLORA_BIN_DIR) / "fedlora-coordinator", "serve", "--config",
                                (dir_ / "coordinator.toml").string()};
  if (insecure) argv.push_back("--insecure");
  auto p = std::make_unique<sim::ChildProcess>(argv, dir_ / "coordinator.log", true);
  while (auto line = p->read_line(std::chrono::seconds(60)))
    if (line->rfind("listening on ", 0) == 0) return p;
  throw std::runtime_error("the coordinator did not start:\n" + log_of("coordinator"));
}

std::unique_ptr<sim::ChildProcess> Deployment::start_device(int i, const std::vector<std::string>& extra,
                                                            const std::string& failpoint) {
  ArmedFailpoint armed(failpoint);
  std::vector<std::string> argv{fs::path(FEDLORA_BIN_DIR) / "fedlora-client",
                                "run",
                                "--coordinator",
                                address(),
                                "--base",
                                (dir_ / "tiny.gguf").string(),
                                "--quantize",
                                "f32",
                                "--data",
                                (dir_ / (device(i) + ".txt")).string(),
                                "--state",
                                (dir_ / ("state-" + device(i))).string(),
                                "--device-id",
                                device(i),
                                "--ca",
                                pki_.ca_cert.string(),
                                "--server-name",
                                "localhost"};
  bool has_auth = false;
  for (const auto& a : extra) has_auth = has_auth || a == "--token" || a == "--cert";
  if (!has_auth) {
    argv.push_back("--token");
    argv.push_back((dir_ / (device(i) + ".token")).string());
  }
  argv.insert(argv.end(), extra.begin(), extra.end());
  return std::make_unique<sim::ChildProcess>(argv, dir_ / (device(i) + ".log"), false);
}

int Deployment::wait_for(sim::ChildProcess& p, int seconds) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  while (std::chrono::steady_clock::now() < until) {
    if (auto st = p.poll()) return *st;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return -1;
}

}  // namespace fedlora::test
