#include "coordinator/strategy/fedopt_strategy.h"

#include <algorithm>
#include <climits>
#include <cmath>
#include <string>

#include "coordinator/cohort/sample_cohort.h"
#include "coordinator/strategy/errors.h"

namespace fedlora::coordinator {

FedOptStrategy::FedOptStrategy(const StrategyConfig& config, Eigen::Index dimension)
    : config_(config) {
  if (config.cohort_size < 1 || config.cohort_size > static_cast<std::size_t>(INT_MAX)) {
    throw StrategyConfigError("strategy: cohort_size " + std::to_string(config.cohort_size) +
                              " must be in [1, " + std::to_string(INT_MAX) + "]");
  }
  if (config.min_contributors < 1 ||
      static_cast<std::size_t>(config.min_contributors) > config.cohort_size) {
    throw StrategyConfigError("strategy: min_contributors " +
                              std::to_string(config.min_contributors) + " must be in [1, " +
                              std::to_string(config.cohort_size) + "] (the cohort size)");
  }
  config.fedprox.validate();
  if (!(config.over_selection >= 1.0 && config.over_selection <= 10.0))
    throw StrategyConfigError("strategy: over_selection " + std::to_string(config.over_selection) + " must be in [1, 10]");
  if (config.sampling == CohortSampling::kPoisson && config.over_selection != 1.0)
    throw StrategyConfigError("strategy: over-selection would change the Poisson sampling the accountant assumes");
  if (config.population < 0) throw StrategyConfigError("strategy: population must be >= 0");
  if (config.sampling == CohortSampling::kPoisson && !config.sampling_source)
    throw StrategyConfigError("strategy: Poisson cohorts need a CSPRNG sampling source (StrategyConfig::sampling_source)");
  optimizer_ = make_server_optimizer(config.server_optimizer, dimension);
}

FitPlan FedOptStrategy::configure_fit(std::uint64_t round,
                                      std::span<const std::uint64_t> available_clients,
                                      const std::unordered_set<std::uint64_t>& ineligible) {
  FitPlan plan;
  plan.round = round;
  if (config_.sampling == CohortSampling::kPoisson) {
    const auto n = config_.population > 0 ? static_cast<std::size_t>(config_.population) : available_clients.size();
    if (n < config_.cohort_size)
      throw CohortError("Poisson cohort: expected cohort " + std::to_string(config_.cohort_size) +
                        " exceeds the population of " + std::to_string(n));
    const double q = static_cast<double>(config_.cohort_size) / static_cast<double>(n);
    // Each eligible client independently with probability q, drawn from the CSPRNG (never
    // from the seeded SplitMix64 stream: amplification needs an unpredictable sample).
    std::vector<std::uint64_t> sorted(available_clients.begin(), available_clients.end());
    std::sort(sorted.begin(), sorted.end());
    if (std::adjacent_find(sorted.begin(), sorted.end()) != sorted.end())
      throw CohortError("Poisson cohort: candidate ids repeat");
    for (auto id : sorted)
      if (config_.sampling_source->bernoulli(q) && !ineligible.contains(id)) plan.cohort.push_back(id);
  } else {
    std::size_t eligible = 0;
    for (auto id : available_clients) eligible += ineligible.contains(id) ? 0 : 1;
    const auto wanted = static_cast<std::size_t>(std::ceil(static_cast<double>(config_.cohort_size) * config_.over_selection));
    const std::size_t draw = std::max(config_.cohort_size, std::min(wanted, eligible));
    plan.cohort = sample_cohort(available_clients, draw, round, config_.seed, ineligible);
  }
  plan.client_config.weighting = config_.aggregation.weighting();
  plan.client_config.weight_cap_examples = config_.aggregation.weight_cap_examples();
  plan.client_config.fedprox = config_.fedprox;
  return plan;
}

FitOutcome FedOptStrategy::aggregate_fit(std::uint64_t round, const UpdateAggregate& aggregate,
                                         Eigen::Ref<Eigen::VectorXf> theta) {
  const std::string where = "aggregate_fit(round " + std::to_string(round) + "): ";
  if (static_cast<std::size_t>(aggregate.expected_cohort_size) != config_.cohort_size) {
    throw InvalidAggregateError(where + "aggregate was built for a cohort of " +
                                std::to_string(aggregate.expected_cohort_size) +
                                ", the strategy's cohort size is " +
                                std::to_string(config_.cohort_size));
  }
  if (aggregate.num_contributors < config_.min_contributors) {
    throw InvalidAggregateError(where + std::to_string(aggregate.num_contributors) +
                                " contributors, fewer than min_contributors " +
                                std::to_string(config_.min_contributors) + "; round skipped");
  }
  if (aggregate.weighted_sum.size() != optimizer_->dimension()) {
    throw InvalidAggregateError(where + "aggregate has dimension " +
                                std::to_string(aggregate.weighted_sum.size()) + ", expected " +
                                std::to_string(optimizer_->dimension()));
  }
  FitOutcome outcome;
  outcome.divisor = config_.aggregation.divisor(aggregate);  // validates the aggregate
  const Eigen::VectorXd delta_bar = aggregate.weighted_sum / outcome.divisor;
  optimizer_->apply(theta, delta_bar);
  outcome.num_contributors = aggregate.num_contributors;
  outcome.expected_cohort_size = aggregate.expected_cohort_size;
  outcome.pseudo_gradient_l2_norm = delta_bar.norm();
  outcome.optimizer_step = optimizer_->step();
  return outcome;
}

}  // namespace fedlora::coordinator
