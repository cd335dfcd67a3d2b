#pragma once
// A deployment on loopback for end-to-end tests: a tiny base model, per-device text files,
// a tokens file, test-time certificates, a fedlora-coordinator process and fedlora-client
// processes, all in one temporary directory.
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "simulator/grpc/child_process.h"
#include "tests/e2e/loopback_port.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_pki.h"

namespace fedlora::test {

class Deployment {
 public:
  /// `devices` devices dev0..; `job_toml` holds the job sections (model.base is added).
  Deployment(int devices, const std::string& job_toml, const std::string& extra_serve = "");

  const std::filesystem::path& dir() const { return dir_.path(); }
  std::filesystem::path state_dir() const { return dir_ / "state"; }
  std::string device(int i) const { return "dev" + std::to_string(i); }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  const TestPki& pki() const { return pki_; }

  /// Starts the coordinator (TLS, bearer tokens); `failpoint` arms FEDLORA_FAILPOINT in it.
  /// Waits until it listens. Throws std::runtime_error if it does not start.
  std::unique_ptr<sim::ChildProcess> start_coordinator(const std::string& failpoint = "", bool insecure = false);
  /// Starts device i with its token; `extra` args are appended.
  std::unique_ptr<sim::ChildProcess> start_device(int i, const std::vector<std::string>& extra = {},
                                                  const std::string& failpoint = "");
  /// Waits up to `seconds` for the child to exit; returns its status or -1 on timeout.
  static int wait_for(sim::ChildProcess& p, int seconds);
  std::string log_of(const std::string& name) const;

 private:
  TempDir dir_{"fedlora_deploy"};
  TestPki pki_;
  int devices_;
  int port_ = 0;
};

}  // namespace fedlora::test
