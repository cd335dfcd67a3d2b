#include "coordinator/protocol/round_instructions.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "coordinator/protocol/errors.h"
#include "privacy/errors.h"
#include "secure-agg/errors.h"

namespace fedlora::protocol {
namespace {

void require(bool ok, const std::string& what) {
  if (!ok) throw ProtocolError("round instructions: " + what);
}

bool finite_positive(double x) { return std::isfinite(x) && x > 0; }

}  // namespace

std::int64_t RoundInstructions::upload_length() const {
  return adapter.update_dimension() + (user_dp && user_dp->report_clip_indicator ? 1 : 0);
}

void RoundInstructions::validate() const {
  require(round >= 1, "round must be >= 1");
  const auto& a = adapter;
  require(a.rank >= 1 && a.rank <= 1024, "adapter.rank " + std::to_string(a.rank) + " must be in [1, 1024]");
  require(finite_positive(a.alpha), "adapter.alpha must be finite and > 0");
  require(!a.target_modules.empty() && a.target_modules.size() <= 7, "adapter.target_modules must name 1..7 projections");
  for (size_t i = 0; i < a.target_modules.size(); ++i)
    for (size_t j = i + 1; j < a.target_modules.size(); ++j)
      require(a.target_modules[i] != a.target_modules[j], "adapter.target_modules repeats a projection");
  require(a.dimension >= 1 && a.dimension <= (std::int64_t{1} << 28),
          "adapter.dimension " + std::to_string(a.dimension) + " must be in [1, 2^28]");
  if (a.freeze_a)
    require(a.b_dimension >= 1 && a.b_dimension < a.dimension,
            "adapter.b_dimension " + std::to_string(a.b_dimension) + " must be in [1, dimension) with freeze_a");
  else
    require(a.b_dimension == 0, "adapter.b_dimension must be 0 without freeze_a");

  const auto& t = train;
  require(t.epochs >= 1 && t.epochs <= 1000, "train.epochs must be in [1, 1000]");
  require(t.batch_size >= 1 && t.batch_size <= 65536, "train.batch_size must be in [1, 65536]");
  require(finite_positive(t.lr), "train.lr must be finite and > 0");
  require(t.max_steps >= 0, "train.max_steps must be >= 0");
  require(std::isfinite(t.fedprox_mu) && t.fedprox_mu >= 0, "train.fedprox_mu must be finite and >= 0");

  const auto& w = weighting;
  require(finite_positive(w.max_weight), "weighting.max_weight must be finite and > 0");
  if (w.kind == Weighting::kCappedExampleCount)
    require(finite_positive(w.weight_cap_examples), "weighting.weight_cap_examples must be finite and > 0");
  if (w.kind != Weighting::kExampleCount)
    require(w.max_weight <= 1.0, "weighting.max_weight must be <= 1 for uniform or capped weights");

  if (dp_sgd) {
    const auto& d = *dp_sgd;
    require(std::isfinite(d.noise_multiplier) && d.noise_multiplier >= 0, "dp_sgd.noise_multiplier must be >= 0");
    require(finite_positive(d.l2_norm_clip), "dp_sgd.l2_norm_clip must be finite and > 0");
    require(d.sampling_rate >= 0 && d.sampling_rate <= 1, "dp_sgd.sampling_rate must be in [0, 1]");
    require(d.steps >= 0 && d.steps <= 1'000'000, "dp_sgd.steps must be in [0, 1e6]");
    require(d.per_example_loss == "token_mean" || d.per_example_loss == "token_sum",
            "dp_sgd.per_example_loss must be token_mean or token_sum");
  }
  if (user_dp) {
    try {
      user_dp->update.validate();
    } catch (const privacy::PrivacyError& e) {
      throw ProtocolError(std::string("round instructions: user_dp: ") + e.what());
    }
    require(w.kind != Weighting::kExampleCount,
            "user_dp needs bounded weights (uniform or capped), not raw example counts");
    require(std::isfinite(user_dp->clip_indicator_noise_stddev) && user_dp->clip_indicator_noise_stddev >= 0,
            "user_dp.clip_indicator_noise_stddev must be finite and >= 0");
  }
  require(deadlines.train_ms >= 1 && deadlines.secagg_stage_ms >= 1, "deadlines must be >= 1 ms");

  if (secagg) {
    const auto& s = *secagg;
    require(s.config != nullptr, "secagg.config is missing");
    try {
      s.config->validate();
      const secagg::FixedPointCodec codec(s.fixed_point);
      require(codec.params().word_bits == s.config->word_bits, "secagg.fixed_point.word_bits differs from the round's");
      require(codec.params().max_contributors >= s.config->num_clients,
              "secagg.fixed_point.max_contributors is below n: the modular sum could wrap");
      require(codec.encoded_length(static_cast<size_t>(upload_length())) == s.config->vector_length,
              "secagg vector_length " + std::to_string(s.config->vector_length) + " does not encode " +
                  std::to_string(upload_length()) + " values");
      require(s.fixed_point.weight_clip.has_value() == (w.kind != Weighting::kUniform),
              "secagg fixed point must carry a weight coordinate exactly when weights are not uniform");
      if (s.fixed_point.weight_clip) require(*s.fixed_point.weight_clip >= w.max_weight, "secagg weight_clip below max_weight");
    } catch (const secagg::SecAggError& e) {
      throw ProtocolError(std::string("round instructions: ") + e.what());
    }
    require(s.config->round == round, "secagg round differs from the instructions' round");
    require(s.logical_id < s.config->num_clients, "secagg.logical_id is not below n");
  }
}

}  // namespace fedlora::protocol
