#pragma once
// The device's life: check in (exponential backoff with full jitter on failures, the
// coordinator's retry window otherwise), take a task, download θ, train, upload or run
// SecAgg, repeat. It obeys the round instructions; it refuses a task for another base model
// or an adapter that does not fit; its raw text never leaves DeviceRound.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <random>
#include <string>

#include "client/round/device_round.h"
#include "client/runtime/coordinator_link.h"
#include "client/runtime/device_state.h"

namespace fedlora::client {

struct RuntimeOptions {
  std::string device_id;
  std::string runtime_version = "fedlora-client 0.2.0";
  int max_rounds = 0;                                 ///< stop after reporting in this many rounds; 0 = until the job ends
  std::chrono::milliseconds min_backoff{200}, max_backoff{60'000};
  std::uint64_t jitter_seed = 0;                      ///< 0 = from the OS (jitter is not privacy randomness)
  /// Runs local training (default: inline). A host of many virtual devices passes a gate that
  /// lets only as many of them train at once as it has cores.
  std::function<void(const std::function<void()>&)> train_gate;
};

/// Why run() returned.
enum class RuntimeExit { kJobFinished, kMaxRounds, kStopped, kBudgetSpent };

/// What happened in one participation (logs, simulation reports).
struct Participation {
  std::uint64_t round = 0;
  DeviceRoundReport report;
  bool secure = false;
};

class DeviceRuntime {
 public:
  /// `device` must outlive the runtime; its ledger is the state's when DP-SGD may be asked.
  DeviceRuntime(RuntimeOptions options, CoordinatorLink& link, DeviceContext& device, DeviceState* state);

  /// Loops until the job is finished, `stop` is set, max_rounds is reached, or the device's
  /// privacy budget refuses a round. Throws LinkError for a non-transient refusal
  /// (unauthenticated, other base model) and on repeated transient failures never: it keeps
  /// backing off.
  RuntimeExit run(const std::atomic<bool>& stop);

  /// Called after each participation.
  std::function<void(const Participation&)> on_participation;
  /// Called with a one-line message for the log.
  std::function<void(const std::string&)> log;

 private:
  /// One check-in; returns the wait before the next, or nullopt to stop with `exit_`.
  std::optional<std::chrono::milliseconds> step();
  void participate(const v1::TaskAssignment& task);
  std::chrono::milliseconds backoff();
  void say(const std::string& s) const;

  RuntimeOptions options_;
  CoordinatorLink& link_;
  DeviceContext& device_;
  DeviceState* state_;
  std::mt19937_64 jitter_;
  int failures_ = 0;
  int rounds_done_ = 0;
  RuntimeExit exit_ = RuntimeExit::kStopped;
};

}  // namespace fedlora::client
