#include "simulator/run/device_round.h"

#include <algorithm>

#include "client/train/private_round.h"
#include "privacy/errors.h"
#include "privacy/noise/noise_source.h"
#include "simulator/run/simulation.h"

namespace fedlora::sim {
namespace {

// SecAgg stages (secagg::Stage values) a device may go silent before.
constexpr int kShareKeys = 2, kMaskedInput = 3, kUnmasking = 5;

client::LocalTrainConfig device_train_config(const DeviceRoundContext& ctx, uint64_t dev) {
  auto cc = ctx.cfg.client;
  cc.fedprox_mu = ctx.fedprox_mu;
  cc.seed = derive_seed(ctx.cfg.run.seed, {0xC11E, ctx.round, dev});
  if (ctx.ledger) {
    const auto& d = ctx.cfg.dp_sgd;
    cc.dp = client::DpSgdTrainConfig{};
    cc.dp->noise_multiplier = d.noise_multiplier;
    cc.dp->l2_norm_clip = d.l2_norm_clip;
    cc.dp->sampling_rate = d.sampling_rate;
    cc.dp->steps = d.steps;
    cc.dp->per_example_loss = client::parse_per_example_loss(d.per_example_loss);
    cc.dp->noise = client::SimulationNoise{ctx.cfg.run.seed, dev, ctx.round};
  }
  return cc;
}

// Trains device `dev` and builds its upload; fills `rep`.
std::optional<client::Upload> run_device(const DeviceRoundContext& ctx, uint64_t dev, const Fleet& fleet,
                                         DeviceReport& rep) {
  const auto cc = device_train_config(ctx, dev);
  const auto& examples = fleet.devices[dev].train;
  try {
    client::LocalUpdate u;
    if (ctx.ledger) {
      const client::DevicePrivacy who{std::to_string(dev), {ctx.cfg.dp_sgd.epsilon, ctx.cfg.dp_sgd.delta}};
      auto res = client::train_local_private(*ctx.ledger, who, ctx.base, ctx.layout, ctx.theta, examples, cc);
      rep.example_epsilon = client::epsilon_spent(res);
      if (std::holds_alternative<client::PrivateRoundRefused>(res)) {
        rep.outcome = DeviceOutcome::refused;
        return std::nullopt;
      }
      u = std::move(std::get<client::PrivateRoundTrained>(res).update);
    } else {
      u = client::train_local(ctx.base, ctx.layout, ctx.theta, examples, cc);
    }
    rep.train_loss = u.train_loss;
    rep.tokens = u.tokens;
    auto noise = privacy::NoiseSource::from_seed(ctx.cfg.run.seed, {dev, ctx.round, privacy::noise_stream::kUserUpdateNoise});
    auto up = client::make_upload(std::move(u.delta), u.num_examples, ctx.upload, &noise);
    rep.outcome = DeviceOutcome::uploaded;
    return up;
  } catch (const client::TrainingDiverged& e) {
    rep.outcome = DeviceOutcome::rejected;
    rep.error = e.what();
  } catch (const privacy::NonFiniteValueError& e) {
    rep.outcome = DeviceOutcome::rejected;
    rep.error = e.what();
  }
  return std::nullopt;
}

}  // namespace

CohortRound run_cohort(WorkerPool& pool, const DeviceRoundContext& ctx, std::span<const uint64_t> cohort,
                       const Fleet& fleet) {
  const size_t k = cohort.size();
  CohortRound out;
  out.uploads.uploads.resize(k);
  out.devices.resize(k);
  if (ctx.secagg) out.uploads.drop_stage.resize(k);
  std::vector<size_t> order;
  for (size_t i = 0; i < k; ++i) {
    const uint64_t s = derive_seed(ctx.cfg.run.seed, {0xD80, ctx.round, cohort[i]});
    const bool drops = static_cast<double>(s >> 11) * 0x1.0p-53 < ctx.cfg.federation.dropout_rate;
    if (drops && ctx.secagg) {
      static constexpr int kStages[] = {kShareKeys, kMaskedInput, kUnmasking};
      const int stage = kStages[derive_seed(s, {1}) % 3];
      out.uploads.drop_stage[i] = stage;
      if (stage == kUnmasking) order.push_back(i);  // it masks its input, then goes silent
    } else if (!drops) {
      order.push_back(i);
    }
  }
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return fleet.devices[cohort[a]].train_targets() > fleet.devices[cohort[b]].train_targets();
  });
  pool.run(order, [&](size_t i, int) { out.uploads.uploads[i] = run_device(ctx, cohort[i], fleet, out.devices[i]); });
  for (size_t i = 0; i < k; ++i)
    if (ctx.secagg && !out.uploads.uploads[i] && (!out.uploads.drop_stage[i] || *out.uploads.drop_stage[i] == kUnmasking))
      out.uploads.drop_stage[i] = kMaskedInput;  // refused or rejected: never sends a masked input
  return out;
}

}  // namespace fedlora::sim
