#pragma once
// The coordinator's round loop, independent of the transport (in-process simulator or gRPC):
// open a round (cohort + task), close it with the round's aggregate (strategy → θ_{t+1},
// checkpoint), or abort it (θ unchanged). The coordinator only ever receives an aggregate,
// never an individual client update (Bonawitz et al. 2019, "Towards Federated Learning at
// Scale" §2 round protocol).
#include <Eigen/Core>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <unordered_set>
#include <vector>

#include "coordinator/strategy/strategy.h"
#include "lora/adapter/adapter_layout.h"

namespace fedlora::coordinator {

/// Thrown when a round operation is called in the wrong state (e.g. close without open).
struct RoundStateError : std::logic_error {
  using std::logic_error::logic_error;
};

/// What devices in the cohort receive.
struct RoundTask {
  std::uint64_t round = 0;                        ///< 1-based
  std::vector<std::uint64_t> cohort;              ///< client ids
  std::shared_ptr<const Eigen::VectorXf> theta;   ///< global adapter θ_t, float32 [d], layout order
  ClientFitConfig client_config;
};

struct RoundRecord {
  std::uint64_t round = 0;
  bool aborted = false;
  std::string abort_reason;
  int cohort_size = 0;
  FitOutcome outcome;  ///< zeros when aborted
};

struct CoordinatorOptions {
  /// Directory rewritten after every applied round: adapter_model.safetensors +
  /// adapter_config.json (PEFT layout) and server_state.safetensors. Empty = no checkpoints.
  std::filesystem::path checkpoint_dir;
  std::string base_model_name;  ///< written into adapter_config.json
};

class Coordinator {
 public:
  /// theta0 float32 [layout.size()]. Throws lora::AdapterError on a size mismatch.
  Coordinator(lora::AdapterLayout layout, Eigen::VectorXf theta0, std::unique_ptr<Strategy> strategy,
              CoordinatorOptions options);

  /// Starts round next_round(): asks the strategy for a cohort among `available` minus
  /// `ineligible`. Throws RoundStateError if a round is open, CohortError if too few clients.
  RoundTask open_round(std::span<const std::uint64_t> available,
                              const std::unordered_set<std::uint64_t>& ineligible = {});
  /// Applies the aggregate through the strategy, then checkpoints. If the strategy rejects it
  /// (InvalidAggregateError: too few contributors, bad values) the round is recorded as
  /// aborted with that reason and θ stays as it was. Throws RoundStateError if no round is open.
  RoundRecord close_round(const UpdateAggregate& aggregate);
  /// Ends the open round without changing θ (e.g. SecAgg survivors below threshold).
  RoundRecord abort_round(const std::string& reason);

  const Eigen::VectorXf& theta() const noexcept { return *theta_; }
  std::shared_ptr<const Eigen::VectorXf> theta_snapshot() const noexcept { return theta_; }
  const lora::AdapterLayout& layout() const noexcept { return layout_; }
  std::uint64_t next_round() const noexcept { return next_round_; }
  bool round_open() const noexcept { return open_.has_value(); }
  Strategy& strategy() noexcept { return *strategy_; }

  /// Writes the checkpoint of the current θ and server state to `dir` (see CoordinatorOptions).
  void write_checkpoint(const std::filesystem::path& dir) const;
  /// Restores θ, the server-optimizer state and the round counter from a checkpoint written
  /// by write_checkpoint. Throws lora::AdapterError / OptimizerStateError on a mismatch.
  void restore_checkpoint(const std::filesystem::path& dir);

 private:
  lora::AdapterLayout layout_;
  std::shared_ptr<const Eigen::VectorXf> theta_;
  std::unique_ptr<Strategy> strategy_;
  CoordinatorOptions options_;
  std::uint64_t next_round_ = 1;
  std::optional<RoundTask> open_;
};

}  // namespace fedlora::coordinator
