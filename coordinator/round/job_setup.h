#pragma once
// From a job's configuration to the coordinator's objects: the strategy and the user-level
// DP settings. Used by the simulator and the coordinator service alike, so both run a job
// the same way.
#include <cstdint>
#include <memory>

#include "coordinator/config/job_config.h"
#include "lora/adapter/adapter_layout.h"
#include "coordinator/round/user_dp_server.h"
#include "coordinator/strategy/fedopt_strategy.h"

namespace fedlora::coordinator {

/// FedOpt strategy for the job: cohort K, FedAvg example weights or uniform weights; with
/// user-level DP, Poisson cohorts (what the accountant assumes) with uniform weights divided
/// by the expected K (McMahan et al. 2018). `cohort_seed` seeds fixed-size cohort draws;
/// `over_selection`, `population` and the Poisson `sampling_source` (a CSPRNG; required with
/// DP-FedAvg) as in StrategyConfig.
StrategyConfig strategy_config_for(const config::JobConfig& job, std::uint64_t cohort_seed, double over_selection = 1.0,
                                   std::int64_t population = 0,
                                   std::shared_ptr<privacy::NoiseSource> sampling_source = nullptr);

/// Floats in one update Δ of the job: the lora_B part d_B with lora.freeze_a (FFA-LoRA),
/// else the whole adapter d. The aggregation channel and user-level DP work at this length.
std::int64_t update_dimension(const config::JobConfig& job, const lora::AdapterLayout& layout);

/// User-level DP settings for a population of `population` users; δ = user_dp.delta or
/// population^-1.1 when unset.
UserDpSettings user_dp_settings_for(const config::JobConfig& job, std::int64_t population);

}  // namespace fedlora::coordinator
