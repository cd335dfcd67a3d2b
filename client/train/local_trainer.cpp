#include "client/train/local_trainer.h"

#include <torch/optim/adam.h>
#include <torch/optim/sgd.h>

#include <cmath>

#include "client/train/dp_sgd.h"
#include "lora/adapter/splitmix64.h"
#include "lora/model/lora_model.h"

namespace fedlora::client {

LocalOptimizer parse_local_optimizer(const std::string& name) {
  if (name == "sgd") return LocalOptimizer::sgd;
  if (name == "adam") return LocalOptimizer::adam;
  throw std::invalid_argument("unknown client optimizer '" + name + "': use sgd or adam");
}

void LocalTrainConfig::validate() const {
  auto bad = [](const std::string& what) { throw std::invalid_argument("client config: " + what); };
  if (epochs < 1) bad("epochs must be >= 1");
  if (batch_size < 1) bad("batch_size must be >= 1");
  if (!(lr > 0) || !std::isfinite(lr)) bad("lr must be a positive finite number");
  if (max_steps < 0) bad("max_steps must be >= 0 (0 = no cap)");
  if (!(fedprox_mu >= 0) || !std::isfinite(fedprox_mu)) bad("fedprox_mu must be >= 0");
  if (micro_batch_size < 0) bad("micro_batch_size must be >= 0 (0 = the whole batch)");
  if (dp) dp->validate();
}

double EvalMetrics::perplexity() const { return std::exp(loss()); }

EvalMetrics& EvalMetrics::operator+=(const EvalMetrics& o) {
  loss_sum += o.loss_sum;
  n_targets += o.n_targets;
  correct += o.correct;
  return *this;
}


std::vector<size_t> seeded_permutation(size_t n, uint64_t seed) {
  std::vector<size_t> p(n);
  for (size_t i = 0; i < n; ++i) p[i] = i;
  lora::SplitMix64 gen(seed);
  for (size_t i = n; i > 1; --i) std::swap(p[i - 1], p[lora::uniform_below(gen, i)]);
  return p;
}

std::vector<at::Tensor> trained_tensors(const lora::LoraAdapter& adapter, bool freeze_a) {
  std::vector<at::Tensor> out;
  const auto& ts = adapter.layout().tensors();
  for (size_t k = 0; k < ts.size(); ++k)
    if (!freeze_a || ts[k].is_b) out.push_back(adapter.tensors()[k]);
  return out;
}

LocalUpdate train_local(std::shared_ptr<const lora::BaseModel> base, const lora::AdapterLayout& layout,
                        std::span<const float> global, const std::vector<lora::TokenSeq>& examples,
                        const LocalTrainConfig& config) {
  config.validate();
  layout.check_size(global);
  if (examples.empty()) throw std::invalid_argument("train_local: the user has no training examples");
  if (config.dp) return train_local_dp_sgd(std::move(base), layout, global, examples, config);

  lora::LoraAdapter adapter(layout);
  adapter.load_flat(global);
  lora::LoraModel model(std::move(base), adapter);
  model.set_activation_checkpointing(config.activation_checkpointing);
  model.set_base_gemm(config.base_gemm);
  const std::vector<at::Tensor> params = trained_tensors(adapter, config.freeze_a);
  std::unique_ptr<torch::optim::Optimizer> opt;
  if (config.optimizer == LocalOptimizer::adam)
    opt = std::make_unique<torch::optim::Adam>(params, torch::optim::AdamOptions(config.lr));
  else
    opt = std::make_unique<torch::optim::SGD>(params, torch::optim::SGDOptions(config.lr));
  std::vector<at::Tensor> theta0;
  if (config.fedprox_mu > 0)
    for (const auto& p : params) theta0.push_back(p.detach().clone());

  LocalUpdate out;
  double loss_sum = 0.0;
  const size_t b = static_cast<size_t>(config.batch_size);
  for (int epoch = 0; epoch < config.epochs; ++epoch) {
    const auto order = seeded_permutation(examples.size(), config.seed * 1000003ull + static_cast<uint64_t>(epoch));
    for (size_t start = 0; start < order.size(); start += b) {
      if (config.max_steps > 0 && out.steps >= config.max_steps) break;
      const size_t end = std::min(order.size(), start + b);
      auto batch = lora::pack_batch(examples, std::span<const size_t>(order.data() + start, end - start));
      opt->zero_grad();
      // The batch mean Σ loss / n_targets, accumulated over micro-batches of rows.
      const int64_t rows = batch.tokens.size(0);
      const int64_t micro = config.micro_batch_size > 0 ? std::min<int64_t>(config.micro_batch_size, rows) : rows;
      double value = 0.0;
      for (int64_t r = 0; r < rows; r += micro) {
        const int64_t len = std::min(micro, rows - r);
        const at::Tensor mask = batch.mask.defined() ? batch.mask.narrow(0, r, len) : at::Tensor();
        auto loss = lora::lm_loss(model, batch.tokens.narrow(0, r, len), mask);
        auto part = loss.sum / static_cast<double>(batch.n_targets);
        const double v = part.item<double>();
        if (!std::isfinite(v))
          throw TrainingDiverged("local training diverged: loss is " + std::to_string(v) + " at step " +
                                 std::to_string(out.steps) + "; lower the client lr");
        part.backward();
        value += v;
      }
      if (config.fedprox_mu > 0) {
        at::NoGradGuard ng;  // ∇ μ/2 ‖θ − θ_t‖² = μ (θ − θ_t)
        for (size_t i = 0; i < params.size(); ++i)
          params[i].mutable_grad().add_(params[i] - theta0[i], config.fedprox_mu);
      }
      opt->step();
      loss_sum += value;
      out.tokens += batch.n_targets;
      ++out.steps;
    }
  }
  out.train_loss = out.steps ? loss_sum / static_cast<double>(out.steps) : 0.0;
  out.num_examples = static_cast<int64_t>(examples.size());
  out.delta = adapter.to_flat();
  for (size_t i = 0; i < out.delta.size(); ++i) {
    out.delta[i] -= global[i];
    if (!std::isfinite(out.delta[i])) throw TrainingDiverged("local training produced a non-finite update");
  }
  return out;
}

EvalMetrics evaluate_adapter(std::shared_ptr<const lora::BaseModel> base, const lora::AdapterLayout& layout,
                             std::span<const float> adapter_flat, const std::vector<lora::TokenSeq>& examples,
                             int batch_size) {
  if (batch_size < 1) throw std::invalid_argument("evaluate_adapter: batch_size must be >= 1");
  at::NoGradGuard ng;
  lora::LoraAdapter adapter(layout);
  adapter.load_flat(adapter_flat);
  lora::LoraModel model(std::move(base), adapter);
  EvalMetrics m;
  std::vector<size_t> idx;
  for (size_t start = 0; start < examples.size(); start += static_cast<size_t>(batch_size)) {
    idx.clear();
    for (size_t i = start; i < std::min(examples.size(), start + static_cast<size_t>(batch_size)); ++i) idx.push_back(i);
    auto batch = lora::pack_batch(examples, idx);
    auto loss = lora::lm_loss(model, batch.tokens, batch.mask);
    m.loss_sum += loss.sum.item<double>();
    m.n_targets += loss.n_targets;
    m.correct += loss.correct.item<int64_t>();
  }
  return m;
}

}  // namespace fedlora::client
