#pragma once
// The server of FedBuff, buffered asynchronous aggregation (Nguyen et al., "Federated
// Learning with Buffered Asynchronous Aggregation", AISTATS 2022, Algorithm 1): devices
// train from whatever θ version was current when they started; the server adds each
// arriving Δ_i, weighted by its staleness s_i = (version now) − (version it started from),
// to a buffer, and every K arrivals applies Δ̄ = (1/K) Σ_i w(s_i) Δ_i through the server
// optimizer (θ ← θ + η Δ̄ for FedAvg), with w(s) = 1/√(1+s) (their §5 polynomial choice).
#include <cstdint>
#include <memory>
#include <optional>
#include <span>

#include <Eigen/Dense>

#include "coordinator/strategy/server_optimizer.h"

namespace fedlora::coordinator {

/// w(s) = 1/√(1+s). Throws std::invalid_argument for s < 0.
double staleness_weight(std::int64_t staleness);

/// What one server step applied.
struct FedBuffStep {
  std::int64_t version = 0;        ///< θ version after the step (1, 2, ...)
  double mean_staleness = 0, max_staleness = 0;
  double update_norm = 0;          ///< ‖Δ̄‖₂
};

class FedBuffBuffer {
 public:
  /// theta0: [d] float32; buffer_size K >= 1; `optimizer` built for d. Throws
  /// std::invalid_argument otherwise.
  FedBuffBuffer(Eigen::VectorXf theta0, int buffer_size, std::unique_ptr<ServerOptimizer> optimizer);

  /// Server steps applied so far (θ's version; 0 = θ0).
  std::int64_t version() const { return version_; }
  /// The current global adapter, float32 [d].
  const Eigen::VectorXf& theta() const { return theta_; }
  /// Arrivals in the buffer since the last step (0 .. K−1).
  int buffered() const { return count_; }

  /// Adds Δ (float32 [d]) trained from θ of `base_version`. Returns the step when this
  /// arrival filled the buffer (θ and the version then advanced), else nullopt. Throws
  /// std::invalid_argument, leaving the buffer unchanged, for a wrong length, a non-finite
  /// value, or a base version in the future or negative.
  std::optional<FedBuffStep> receive(std::span<const float> delta, std::int64_t base_version);

 private:
  Eigen::VectorXf theta_;
  int buffer_size_;
  std::unique_ptr<ServerOptimizer> optimizer_;
  Eigen::VectorXd sum_;
  std::int64_t version_ = 0;
  int count_ = 0;
  double staleness_sum_ = 0, staleness_max_ = 0;
};

}  // namespace fedlora::coordinator
