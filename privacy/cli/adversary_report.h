// Pieces of `fedlora-privacy epsilon` that name the adversary of each figure: the
// coordinator's view of a sampled-Gaussian run (no amplification) and DP-FTRL.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>

namespace fedlora::privacy::cli {

/// ε against the coordinator for T rounds at sampling rate q and noise multiplier σ:
/// at the expected q·T participations, at all T, and at min(cap, T) if cap > 0.
struct CoordinatorReport {
  nlohmann::json json;  ///< {"adversary", "assumption", "expected", "every_round", "capped"}
  std::string text;     ///< lines for the text output
};
CoordinatorReport coordinator_report(double sample_rate, double noise_multiplier,
                                     std::int64_t steps, double delta,
                                     std::int64_t max_participations,
                                     std::span<const double> orders);

/// DP-FTRL (tree aggregation, no sampling) over T rounds; restart_every = 0 is one tree;
/// each user at most max_participations times per tree, min_separation rounds apart.
struct FtrlReport {
  nlohmann::json json;
  std::string text;
};
FtrlReport ftrl_report(double noise_multiplier, std::int64_t steps, double delta,
                       std::int64_t restart_every, std::int64_t max_participations,
                       std::int64_t min_separation, std::span<const double> orders);

/// The caveat printed with the amplified (released-model) ε.
std::string released_model_caveat(double sample_rate);

}  // namespace fedlora::privacy::cli
