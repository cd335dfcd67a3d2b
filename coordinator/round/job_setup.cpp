#include "coordinator/round/job_setup.h"

#include <algorithm>
#include <cmath>

#include "lora/adapter/lora_b_part.h"

namespace fedlora::coordinator {

std::int64_t update_dimension(const config::JobConfig& job, const lora::AdapterLayout& layout) {
  return job.lora.freeze_a ? lora::lora_b_size(layout) : layout.size();
}

StrategyConfig strategy_config_for(const config::JobConfig& job, std::uint64_t cohort_seed, double over_selection,
                                   std::int64_t population, std::shared_ptr<privacy::NoiseSource> sampling_source) {
  StrategyConfig sc;
  sc.sampling_source = std::move(sampling_source);
  sc.over_selection = over_selection;
  sc.population = population;
  sc.cohort_size = static_cast<std::size_t>(job.federation.cohort_size);
  sc.seed = cohort_seed;
  if (job.user_dp.enabled) {
    // DP-FedAvg: Poisson cohorts, as its accountant assumes; DP-FTRL needs no sampling.
    sc.sampling = job.user_dp.mechanism == "dp_ftrl" ? CohortSampling::kFixedSize : CohortSampling::kPoisson;
    sc.aggregation = AggregationPolicy::fixed_denominator_uniform();
  } else {
    sc.aggregation = job.server.weighting == config::UpdateWeighting::examples ? AggregationPolicy::example_weighted()
                                                                               : AggregationPolicy::uniform();
  }
  sc.server_optimizer = job.server.optimizer;
  sc.fedprox.mu = job.client.fedprox_mu;
  sc.min_contributors = job.federation.min_contributors;
  return sc;
}

UserDpSettings user_dp_settings_for(const config::JobConfig& job, std::int64_t population) {
  const auto& u = job.user_dp;
  UserDpSettings us;
  us.mode = u.mode == "distributed" ? privacy::NoiseMode::kDistributed : privacy::NoiseMode::kCentral;
  us.noise_multiplier = u.noise_multiplier;
  us.l2_norm_clip = u.l2_norm_clip;
  us.adaptive_clipping = u.adaptive_clipping;
  us.target_quantile = u.target_quantile;
  us.clip_learning_rate = u.clip_learning_rate;
  us.count_noise_stddev = u.count_noise_stddev;
  us.expected_cohort = job.federation.cohort_size;
  us.population = population;
  us.delta = u.delta > 0 ? u.delta : std::pow(static_cast<double>(population), -1.1);
  us.mechanism = u.mechanism == "dp_ftrl" ? UserDpMechanism::kDpFtrl : UserDpMechanism::kDpFedAvg;
  us.max_participations = u.max_participations;
  us.min_survivors = u.min_survivors;
  us.corrupt_fraction = job.secagg.enabled ? job.secagg.corrupt_fraction : 0.0;
  us.ftrl_restart_every = u.restart_every > 0 ? u.restart_every
                                              : std::max<std::int64_t>(1, population / std::max(1, job.federation.cohort_size));
  return us;
}

}  // namespace fedlora::coordinator
