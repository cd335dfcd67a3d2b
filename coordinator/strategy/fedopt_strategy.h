#pragma once
// The one concrete strategy: uniform cohort sampling + an aggregation policy + a server
// optimizer. FedAvg, FedAvgM, FedAdam, FedYogi, FedAdagrad, DP-FedAvg's fixed denominator and
// FedProx's client term are all settings of it.

#include <cstddef>
#include <cstdint>
#include <memory>

#include "coordinator/strategy/aggregation_policy.h"
#include "coordinator/strategy/server_optimizer_config.h"
#include "coordinator/strategy/strategy.h"
#include "privacy/noise/noise_source.h"

namespace fedlora::coordinator {

/// How configure_fit draws a cohort.
enum class CohortSampling {
  kFixedSize,  ///< exactly K clients, uniformly without replacement
  kPoisson,    ///< each client independently with q = K / |available| (user-level DP accounting)
};

struct StrategyConfig {
  std::size_t cohort_size = 0;  ///< K, clients per round (≥ 1); the expected size under kPoisson
  CohortSampling sampling = CohortSampling::kFixedSize;
  std::uint64_t seed = 0;       ///< cohort sampling seed; cohorts depend on (seed, round)
  /// Fixed-size cohorts: select ⌈K · over_selection⌉ clients (as many as are eligible, at
  /// least K) so that the round can close at K reports (Bonawitz et al. 2019 §2.2). Must be
  /// 1 with Poisson sampling.
  double over_selection = 1.0;
  /// Poisson cohorts: N in q = K / N, the population the accountant assumes; 0 = the
  /// number of available clients.
  std::int64_t population = 0;
  /// Poisson cohorts: the CSPRNG each client's inclusion is drawn from
  /// (NoiseSource::from_os_entropy unless a research run opted into reproducible noise).
  /// Amplification by sampling needs a sample nobody can predict, so Poisson sampling
  /// without it is refused. Shared: configs are copied.
  std::shared_ptr<privacy::NoiseSource> sampling_source;
  AggregationPolicy aggregation = AggregationPolicy::example_weighted();
  ServerOptimizerConfig server_optimizer;
  FedProxConfig fedprox;
  /// Fewest contributors for which a round is applied (1 ≤ min_contributors ≤ K); fewer
  /// raise InvalidAggregateError and the round is skipped.
  int min_contributors = 1;
};

/// FedOpt (Reddi et al. 2021, Algorithm 1) with the aggregation policies of McMahan et al.
/// 2017 (example-weighted FedAvg) and McMahan et al. 2018 (fixed denominator).
class FedOptStrategy final : public Strategy {
 public:
  /// `dimension` is the flat adapter length d. Throws StrategyConfigError on an invalid
  /// config (cohort_size 0 or > INT_MAX, min_contributors outside [1, K], bad fedprox mu, bad
  /// server optimizer).
  FedOptStrategy(const StrategyConfig& config, Eigen::Index dimension);

  std::string_view name() const noexcept override { return optimizer_->name(); }
  FitPlan configure_fit(std::uint64_t round, std::span<const std::uint64_t> available_clients,
                        const std::unordered_set<std::uint64_t>& ineligible) override;
  /// Also throws InvalidAggregateError if aggregate.expected_cohort_size != K.
  FitOutcome aggregate_fit(std::uint64_t round, const UpdateAggregate& aggregate,
                           Eigen::Ref<Eigen::VectorXf> theta) override;
  OptimizerState state() const override { return optimizer_->state(); }
  void restore(const OptimizerState& state) override { optimizer_->restore(state); }

  const ServerOptimizer& optimizer() const noexcept { return *optimizer_; }
  const StrategyConfig& config() const noexcept { return config_; }

 private:
  StrategyConfig config_;
  std::unique_ptr<ServerOptimizer> optimizer_;
};

}  // namespace fedlora::coordinator
