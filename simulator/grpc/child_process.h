#pragma once
// A child process of the simulator (the coordinator, device workers): started with
// posix_spawn, stdout readable line by line through a pipe or sent to a log file, stopped
// with a signal, reaped. The destructor kills and reaps a child that is still running.
#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace fedlora::sim {

class ChildProcess {
 public:
  /// Starts `argv[0]` with `argv`. stdout goes to a pipe (read_line) when `pipe_stdout`, else
  /// with stderr to `log` (appended). Throws std::runtime_error if it cannot start.
  ChildProcess(const std::vector<std::string>& argv, const std::filesystem::path& log, bool pipe_stdout);
  ~ChildProcess();
  ChildProcess(ChildProcess&&) noexcept;
  ChildProcess& operator=(ChildProcess&&) = delete;
  ChildProcess(const ChildProcess&) = delete;

  /// The next stdout line (without '\n'), waiting at most `timeout`; nullopt on EOF/timeout.
  std::optional<std::string> read_line(std::chrono::milliseconds timeout);
  /// Exit status if the child has ended (WEXITSTATUS, or 128 + signal), without blocking.
  std::optional<int> poll();
  /// Waits for the child to end; returns its status as poll().
  int wait();
  void signal(int sig);
  pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
  int out_fd_ = -1;
  std::string buffer_;
  std::optional<int> status_;
};

}  // namespace fedlora::sim
