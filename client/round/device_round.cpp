#include "client/round/device_round.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "client/upload/device_upload.h"
#include "coordinator/protocol/errors.h"
#include "lora/int8/int8_linear.h"
#include "lora/model/lora_model.h"
#include "lora/model/runtime.h"
#include "lora/adapter/adapter_layout.h"
#include "lora/adapter/lora_b_part.h"
#include "privacy/errors.h"
#include "secure-agg/errors.h"
#include "secure-agg/fixed_point.h"

namespace fedlora::client {
namespace {

std::string hex8(const protocol::Sha256Digest& d) {
  char buf[17];
  for (int i = 0; i < 8; ++i) std::snprintf(buf + 2 * i, 3, "%02x", d[static_cast<size_t>(i)]);
  return std::string(buf) + "…";
}

}  // namespace

const char* to_string(DeviceStatus s) {
  switch (s) {
    case DeviceStatus::kAccepted: return "accepted";
    case DeviceStatus::kReady: return "ready";
    case DeviceStatus::kRefusedBudget: return "refused_budget";
    case DeviceStatus::kRejected: return "rejected";
    case DeviceStatus::kUploaded: return "uploaded";
    case DeviceStatus::kSecAggDone: return "secagg_done";
    case DeviceStatus::kSecAggAborted: return "secagg_aborted";
  }
  return "?";
}

DeviceRound::DeviceRound(const DeviceContext& device, protocol::RoundInstructions instructions)
    : device_(&device), instructions_(std::move(instructions)) {
  try {
    instructions_.validate();
  } catch (const protocol::ProtocolError& e) {
    throw TaskRefused(e.what());
  }
  if (!device.base) throw TaskRefused("device has no base model loaded");
  if (device.base_model_sha256 != instructions_.base_model_sha256)
    throw TaskRefused("the task is for base model sha256 " + hex8(instructions_.base_model_sha256) +
                      ", this device holds " + hex8(device.base_model_sha256));
  const auto& a = instructions_.adapter;
  try {
    layout_ = std::make_unique<lora::AdapterLayout>(
        lora::make_adapter_layout(device.base->config, a.rank, a.alpha, a.target_modules));
  } catch (const lora::AdapterError& e) {
    throw TaskRefused(std::string("the task's adapter does not fit this base: ") + e.what());
  }
  if (layout_->size() != a.dimension)
    throw TaskRefused("the task's adapter has " + std::to_string(a.dimension) + " parameters; on this base r=" +
                      std::to_string(a.rank) + " gives " + std::to_string(layout_->size()));
  if (a.freeze_a && lora::lora_b_size(*layout_) != a.b_dimension)
    throw TaskRefused("the task's lora_B part has " + std::to_string(a.b_dimension) + " parameters; on this base " +
                      std::to_string(lora::lora_b_size(*layout_)));
  if (!device.train_examples || device.train_examples->empty()) throw TaskRefused("the device has no training examples");
  if (instructions_.dp_sgd && (!device.ledger || !device.privacy))
    throw TaskRefused("the task asks for DP-SGD but this device has no privacy ledger and budget");
  if (const auto& sa = instructions_.secagg) {
    if (!device.identity) throw TaskRefused("the task uses secure aggregation but this device has no identity key");
    try {
      device.secagg_policy.check(*sa->config);
    } catch (const secagg::SecAggError& e) {
      throw TaskRefused(std::string("the SecAgg parameters fall below this device's policy: ") + e.what());
    }
    if (sa->config->logical_id_of(device.identity->public_key()) != sa->logical_id)
      throw TaskRefused("the SecAgg roster does not place this device's identity key at its logical id");
  }
  report_.num_examples = static_cast<std::int64_t>(device.train_examples->size());
  if (device.memory_budget_mb) {
    try {
      const StepShape shape = step_shape();
      report_.memory = plan_step_memory(shape, *device.memory_budget_mb);
      report_.micro_batched = report_.memory.micro_batch < shape.batch;
    } catch (const MemoryBudgetExceeded& e) {
      throw TaskRefused(e.what());
    }
  } else {
    report_.memory = StepMemorySettings{instructions_.train.batch_size, false};
  }
}

StepShape DeviceRound::step_shape() const {
  StepShape s;
  s.model = device_->base->config;
  s.adapter_size = layout_->size();
  for (lora::TargetModule m : lora::kAllTargetModules) {
    const auto p = s.model.projection(m);
    s.largest_projection = std::max(s.largest_projection, p.in_features * p.out_features);
  }
  // DP-SGD lots are Poisson around q·N; the micro-batch bounds memory whatever their size.
  s.batch = instructions_.train.batch_size;
  if (const auto& d = instructions_.dp_sgd; d && d->sampling_rate > 0)
    s.batch = std::max(1, static_cast<int>(std::ceil(d->sampling_rate * static_cast<double>(report_.num_examples))));
  for (const auto& ex : *device_->train_examples) s.seq_len = std::max<int64_t>(s.seq_len, static_cast<int64_t>(ex.size()) - 1);
  s.dp_sgd = instructions_.dp_sgd.has_value();
  s.fedprox = instructions_.train.fedprox_mu > 0;
  if (device_->base_gemm == lora::BaseGemm::int8) {
    for (lora::TargetModule m : lora::kAllTargetModules) {
      const auto p = s.model.projection(m);
      s.int8_base_bytes += s.model.n_layers * static_cast<int64_t>(lora::int8_weight_bytes(p.out_features, p.in_features));
    }
    s.int8_base_bytes += static_cast<int64_t>(lora::int8_weight_bytes(s.model.vocab_size, s.model.dim));  // the LM head
  }
  return s;
}

DeviceRound::~DeviceRound() = default;
DeviceRound::DeviceRound(DeviceRound&&) noexcept = default;
DeviceRound& DeviceRound::operator=(DeviceRound&&) noexcept = default;

std::unique_ptr<privacy::NoiseSource> DeviceRound::noise_for(std::uint64_t stream) const {
  const auto& r = device_->randomness;
  if (r.research_seed)
    return std::make_unique<privacy::NoiseSource>(
        privacy::NoiseSource::from_seed(*r.research_seed, {r.device_index, instructions_.round, stream}));
  return std::make_unique<privacy::NoiseSource>(privacy::NoiseSource::from_os_entropy());
}

std::unique_ptr<secagg::crypto::RandomSource> DeviceRound::secagg_rng(const char* purpose) const {
  const auto& r = device_->randomness;
  if (!r.research_seed) return std::make_unique<secagg::crypto::SystemRandom>();
  return std::make_unique<secagg::crypto::DeterministicRandom>(
      *r.research_seed, std::string(purpose) + " round " + std::to_string(instructions_.round) + " device " +
                            std::to_string(r.device_index));
}

// SecAgg keys and self-mask seeds always come from the OS: they protect the update from the
// coordinator, and the sum does not depend on them, so even research runs need no seed here.
std::unique_ptr<secagg::crypto::RandomSource> DeviceRound::key_rng() {
  return std::make_unique<secagg::crypto::SystemRandom>();
}

DeviceStatus DeviceRound::train(std::span<const float> theta) {
  if (report_.status != DeviceStatus::kAccepted) throw std::logic_error("DeviceRound::train called twice");
  if (static_cast<std::int64_t>(theta.size()) != layout_->size())
    throw TaskRefused("θ has " + std::to_string(theta.size()) + " values, the adapter " + std::to_string(layout_->size()));
  const auto& t = instructions_.train;
  LocalTrainConfig cc;
  cc.epochs = t.epochs;
  cc.batch_size = t.batch_size;
  cc.lr = t.lr;
  cc.optimizer = t.optimizer == protocol::LocalOptimizerKind::kSgd ? LocalOptimizer::sgd : LocalOptimizer::adam;
  cc.max_steps = t.max_steps;
  cc.fedprox_mu = t.fedprox_mu;
  cc.seed = t.shuffle_seed;
  cc.micro_batch_size = report_.memory.micro_batch;
  cc.activation_checkpointing = report_.memory.activation_checkpointing;
  cc.base_gemm = device_->base_gemm;
  cc.freeze_a = instructions_.adapter.freeze_a;
  lora::reset_resident_peak();
  const auto& r = device_->randomness;
  if (const auto& d = instructions_.dp_sgd) {
    DpSgdTrainConfig dp;
    dp.noise_multiplier = d->noise_multiplier;
    dp.l2_norm_clip = d->l2_norm_clip;
    dp.sampling_rate = d->sampling_rate;
    dp.steps = d->steps;
    dp.per_example_loss = parse_per_example_loss(d->per_example_loss);
    if (r.research_seed) dp.noise = SimulationNoise{*r.research_seed, r.device_index, instructions_.round};
    else dp.noise = ProductionNoise{};
    cc.dp = dp;
  }
  const auto& examples = *device_->train_examples;
  try {
    LocalUpdate u;
    if (cc.dp) {
      auto res = train_local_private(*device_->ledger, *device_->privacy, device_->base, *layout_, theta, examples, cc);
      report_.example_epsilon = epsilon_spent(res);
      if (std::holds_alternative<PrivateRoundRefused>(res)) return report_.status = DeviceStatus::kRefusedBudget;
      u = std::move(std::get<PrivateRoundTrained>(res).update);
    } else {
      u = train_local(device_->base, *layout_, theta, examples, cc);
    }
    report_.peak_rss_bytes = lora::resident_peak_since_reset();
    report_.train_loss = u.train_loss;
    report_.tokens = u.tokens;
    report_.weight = instructions_.weighting.weight(u.num_examples);
    std::unique_ptr<privacy::NoiseSource> noise;
    if (instructions_.user_dp) noise = noise_for(privacy::noise_stream::kUserUpdateNoise);
    // FFA-LoRA: Δ is zero on lora_A, so clipping, noise and the upload cover lora_B only.
    if (cc.freeze_a) u.delta = lora::gather_lora_b(*layout_, u.delta);
    upload_ = make_upload(std::move(u.delta), report_.weight, instructions_.user_dp, noise.get());
  } catch (const TrainingDiverged& e) {
    report_.peak_rss_bytes = lora::resident_peak_since_reset();
    report_.error = e.what();
    return report_.status = DeviceStatus::kRejected;
  } catch (const privacy::NonFiniteValueError& e) {
    report_.error = e.what();
    return report_.status = DeviceStatus::kRejected;
  }
  if (const auto& sa = instructions_.secagg) {
    const secagg::FixedPointCodec codec(sa->fixed_point);
    for (float v : upload_->values)
      if (std::abs(v) > sa->fixed_point.clip) ++report_.clipped_values;
    auto rng = secagg_rng("encode");
    const std::optional<double> w =
        sa->fixed_point.weight_clip ? std::optional<double>(upload_->weight) : std::nullopt;
    auto words = codec.encode(upload_->values, *rng, w);
    upload_.reset();
    if (!secagg_)
      secagg_ = std::make_unique<secagg::ClientStateMachine>(*sa->config, *device_->identity, device_->secagg_policy,
                                                              key_rng());
    secagg_->set_input(std::move(words));
  }
  return report_.status = DeviceStatus::kReady;
}

protocol::PlainUpload DeviceRound::take_plain_upload() {
  if (instructions_.secagg) throw std::logic_error("take_plain_upload: this round uses secure aggregation");
  if (report_.status != DeviceStatus::kReady || !upload_) throw std::logic_error("take_plain_upload: nothing to upload");
  report_.status = DeviceStatus::kUploaded;
  auto up = std::move(*upload_);
  upload_.reset();
  return up;
}

secagg::pb::ClientToServer DeviceRound::secagg_start() {
  const auto& sa = instructions_.secagg;
  if (!sa) throw std::logic_error("secagg_start: this round has no secure aggregation");
  if (!secagg_)
    secagg_ = std::make_unique<secagg::ClientStateMachine>(*sa->config, *device_->identity, device_->secagg_policy,
                                                            key_rng());
  return secagg_->start();
}

std::optional<secagg::pb::ClientToServer> DeviceRound::secagg_handle(const secagg::pb::ServerToClient& message) {
  if (!secagg_) return std::nullopt;
  auto step = secagg_->handle(message);
  refresh_secagg_status();
  return std::move(step.reply);
}

std::optional<secagg::Stage> DeviceRound::secagg_awaiting() const {
  return secagg_ ? secagg_->awaiting() : std::nullopt;
}

void DeviceRound::refresh_secagg_status() {
  if (secagg_->completed()) {
    report_.status = DeviceStatus::kSecAggDone;
  } else if (secagg_->aborted()) {
    report_.status = DeviceStatus::kSecAggAborted;
    report_.error = secagg_->abort_reason();
  }
}

}  // namespace fedlora::client
