#include "client/train/dp_sgd.h"

#include <torch/optim/adam.h>
#include <torch/optim/sgd.h>

#include <cmath>
#include <stdexcept>
#include <string>

#include "client/train/per_example_clip.h"
#include "privacy/errors.h"
#include "privacy/sampling/poisson_sampler.h"

namespace fedlora::client {
namespace {

const DpSgdTrainConfig& validated_dp(const LocalTrainConfig& config) {
  if (!config.dp) throw std::invalid_argument("DP-SGD training needs LocalTrainConfig::dp to be set");
  config.validate();
  return *config.dp;
}

privacy::NoiseSource make_stream(const DpNoiseMode& mode, uint64_t purpose) {
  if (const auto* sim = std::get_if<SimulationNoise>(&mode))
    return privacy::NoiseSource::from_seed(sim->run_seed, {sim->device, sim->round, purpose});
  return privacy::NoiseSource::from_os_entropy();
}

// Detaches the sink even if backward throws, so a later plain pass never writes into it.
struct SinkGuard {
  lora::LoraModel& model;
  ~SinkGuard() { model.set_per_example_sink(nullptr); }
};

}  // namespace

DpSgdTrainer::DpSgdTrainer(std::shared_ptr<const lora::BaseModel> base, const lora::AdapterLayout& layout,
                           std::span<const float> global, const std::vector<lora::TokenSeq>& examples,
                           const LocalTrainConfig& config)
    : plan_(plan_dp_sgd(validated_dp(config), config.epochs, config.batch_size, config.max_steps,
                        static_cast<int64_t>(examples.size()))),
      loss_kind_(config.dp->per_example_loss),
      fedprox_mu_(config.fedprox_mu),
      examples_(examples),
      adapter_(layout),
      model_(std::move(base), adapter_),
      noise_(make_stream(config.dp->noise, privacy::noise_stream::kDpSgdNoise)),
      sampling_(make_stream(config.dp->noise, privacy::noise_stream::kExampleSampling)) {
  adapter_.load_flat(global);
  model_.set_activation_checkpointing(config.activation_checkpointing);
  model_.set_base_gemm(config.base_gemm);
  micro_batch_ = static_cast<size_t>(config.micro_batch_size);
  freeze_a_ = config.freeze_a;
  const auto& params = adapter_.tensors();
  if (config.optimizer == LocalOptimizer::adam)
    opt_ = std::make_unique<torch::optim::Adam>(trained_tensors(adapter_, freeze_a_), torch::optim::AdamOptions(config.lr));
  else
    opt_ = std::make_unique<torch::optim::SGD>(trained_tensors(adapter_, freeze_a_), torch::optim::SGDOptions(config.lr));
  if (fedprox_mu_ > 0)
    for (const auto& p : params) theta0_.push_back(p.detach().clone());
}

DpSgdTrainer::~DpSgdTrainer() = default;

std::vector<size_t> DpSgdTrainer::sample_lot() {
  const auto idx = privacy::poisson_sample(plan_.dataset_size, plan_.sampling_rate, sampling_);
  return std::vector<size_t>(idx.begin(), idx.end());
}

void DpSgdTrainer::accumulate_clipped(std::span<const size_t> part, std::vector<double>& sum, DpStepStats& st,
                                      double& loss_sum) {
  const auto& layout = adapter_.layout();
  auto batch = lora::pack_batch(examples_, part);
  for (const auto& p : adapter_.tensors()) p.mutable_grad() = at::Tensor();
  sink_.grads.clear();
  {
    model_.set_per_example_sink(&sink_);
    SinkGuard guard{model_};
    auto loss = lora::lm_loss(model_, batch.tokens, batch.mask);
    const double total = loss.sum.item<double>();
    if (!std::isfinite(total))
      throw TrainingDiverged("DP-SGD diverged: loss is " + std::to_string(total) + " at step " +
                             std::to_string(steps_done_) + "; lower the client lr");
    st.tokens += batch.n_targets;
    loss_sum += total;
    at::Tensor objective;  // Σ_i L_i: each example's sink slice is then ∇L_i
    if (loss_kind_ == PerExampleLoss::token_mean) {
      at::Tensor inv_n = at::empty({static_cast<int64_t>(part.size())}, at::kFloat);
      for (size_t i = 0; i < part.size(); ++i)
        inv_n.data_ptr<float>()[i] = 1.0f / static_cast<float>(examples_[part[i]].size() - 1);
      objective = (loss.per_example * inv_n).sum();
    } else {
      objective = loss.sum;
    }
    objective.backward();
  }
  if (freeze_a_)  // FFA-LoRA: lora_A is not trained, so its gradients count in no norm and no sum
    for (size_t k = 0; k < sink_.grads.size(); ++k)
      if (!layout.tensors()[k].is_b && sink_.grads[k].defined()) sink_.grads[k].zero_();
  int64_t bytes = 0;
  for (const auto& g : sink_.grads)
    if (g.defined()) bytes += g.numel() * static_cast<int64_t>(sizeof(float));
  per_example_bytes_ = std::max(per_example_bytes_, bytes);
  std::vector<double> norms;
  try {
    norms = clip_per_example(sink_, layout, plan_.l2_norm_clip);
  } catch (const privacy::NonFiniteValueError& e) {
    throw TrainingDiverged("DP-SGD diverged: a per-example gradient is not finite at step " +
                           std::to_string(steps_done_) + " (" + e.what() + "); lower the client lr");
  }
  for (double n : norms) st.clipped += n > plan_.l2_norm_clip ? 1 : 0;
  const auto part_sum = sum_per_example(sink_, layout);
  for (size_t i = 0; i < sum.size(); ++i) sum[i] += part_sum[i];
  sink_.grads.clear();
}

DpStepStats DpSgdTrainer::step(std::span<const size_t> lot) {
  const auto& layout = adapter_.layout();
  const auto& params = adapter_.tensors();
  DpStepStats st;
  st.lot_size = static_cast<int64_t>(lot.size());
  // Σ_i clip(g_i) over the lot, one micro-batch of examples per pass (clipping is per
  // example, so the sum does not depend on how the lot is split). An empty lot adds nothing.
  std::vector<double> sum(static_cast<size_t>(layout.size()), 0.0);
  per_example_bytes_ = 0;
  double loss_sum = 0.0;
  const size_t micro = micro_batch_ > 0 ? micro_batch_ : std::max<size_t>(lot.size(), 1);
  for (size_t r = 0; r < lot.size(); r += micro)
    accumulate_clipped(lot.subspan(r, std::min(micro, lot.size() - r)), sum, st, loss_sum);
  if (st.tokens > 0) st.loss = loss_sum / static_cast<double>(st.tokens);
  noisy_ = privatize_sum(std::move(sum), plan_.noise_multiplier, plan_.l2_norm_clip, plan_.expected_batch_size(),
                         noise_);
  if (freeze_a_)  // post-processing: the noise drawn for frozen lora_A entries is dropped
    for (const auto& t : layout.tensors())
      if (!t.is_b) std::fill_n(noisy_.begin() + t.offset, t.numel(), 0.0f);

  const auto& ts = layout.tensors();
  for (size_t k = 0; k < params.size(); ++k) {
    auto g = at::from_blob(noisy_.data() + ts[k].offset, {ts[k].rows, ts[k].cols}, at::kFloat).clone();
    if (fedprox_mu_ > 0) {
      at::NoGradGuard ng;  // ∇ μ/2 ‖θ − θ_t‖² = μ (θ − θ_t): no data involved
      g.add_(params[k].detach() - theta0_[k], fedprox_mu_);
    }
    params[k].mutable_grad() = std::move(g);
  }
  opt_->step();
  ++steps_done_;
  return st;
}

DpStepStats DpSgdTrainer::poisson_step() {
  const auto lot = sample_lot();
  return step(lot);
}

LocalUpdate train_local_dp_sgd(std::shared_ptr<const lora::BaseModel> base, const lora::AdapterLayout& layout,
                               std::span<const float> global, const std::vector<lora::TokenSeq>& examples,
                               const LocalTrainConfig& config) {
  if (examples.empty()) throw std::invalid_argument("train_local: the user has no training examples");
  layout.check_size(global);
  DpSgdTrainer trainer(std::move(base), layout, global, examples, config);
  DpSgdReport report;
  report.plan = trainer.plan();
  report.deterministic_noise = trainer.deterministic_noise();
  LocalUpdate out;
  double loss_sum = 0.0;
  int64_t loss_steps = 0;
  for (int64_t s = 0; s < report.plan.steps; ++s) {
    const auto st = trainer.poisson_step();
    report.sampled_examples += st.lot_size;
    report.empty_steps += st.lot_size == 0 ? 1 : 0;
    report.clipped_examples += st.clipped;
    out.tokens += st.tokens;
    if (st.lot_size > 0) {
      loss_sum += st.loss;
      ++loss_steps;
    }
    ++out.steps;
  }
  out.train_loss = loss_steps ? loss_sum / static_cast<double>(loss_steps) : 0.0;
  out.num_examples = static_cast<int64_t>(examples.size());
  out.delta = trainer.adapter_flat();
  for (size_t i = 0; i < out.delta.size(); ++i) {
    out.delta[i] -= global[i];
    if (!std::isfinite(out.delta[i])) throw TrainingDiverged("DP-SGD local training produced a non-finite update");
  }
  out.dp = report;
  return out;
}

}  // namespace fedlora::client
