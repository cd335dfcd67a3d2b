// Plain (non-DP) local training, checked against a hand-written optimizer loop: two full-
// batch steps of SGD and of Adam (Kingma & Ba 2015, Alg. 1 with the defaults β1 = 0.9,
// β2 = 0.999, ε = 1e-8), FedProx's proximal gradient μ(θ − θ_t) (Li et al. 2020, eq. 2),
// and the step counts of E epochs and max_steps. The gradient of the mean next-token loss
// comes from the model's own backward pass; the update rules are computed here in double.
#include <gtest/gtest.h>

#include <cmath>
#include <numeric>
#include <vector>

#include "client/train/local_trainer.h"
#include "lora/model/lora_model.h"
#include "lora/model/lm_batch.h"
#include "lora/model/decoder.h"
#include "tests/client/dp_fixture.h"

namespace fedlora::client {
namespace {
using test::dp_examples;
using test::dp_random_adapter;
using test::dp_tiny_base;
using test::dp_tiny_layout;

// ∇ of the mean next-token loss over all examples (one batch), at θ.
std::vector<double> full_batch_gradient(std::shared_ptr<const lora::BaseModel> base, const lora::AdapterLayout& layout,
                                        const std::vector<double>& theta, const std::vector<lora::TokenSeq>& examples) {
  lora::LoraAdapter a(layout);
  a.load_flat(std::vector<float>(theta.begin(), theta.end()));
  lora::LoraModel m(std::move(base), a);
  std::vector<size_t> idx(examples.size());
  std::iota(idx.begin(), idx.end(), 0);
  auto batch = lora::pack_batch(examples, idx);
  auto loss = lora::lm_loss(m, batch.tokens, batch.mask);
  (loss.sum / static_cast<double>(batch.n_targets)).backward();
  const auto g = a.grad_to_flat();
  return std::vector<double>(g.begin(), g.end());
}

double max_rel_diff(const std::vector<float>& got, const std::vector<double>& want) {
  double worst = 0, scale = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    worst = std::max(worst, std::abs(got[i] - want[i]));
    scale = std::max(scale, std::abs(want[i]));
  }
  return worst / scale;
}

struct Fixture {
  std::shared_ptr<const lora::BaseModel> base = dp_tiny_base();
  lora::AdapterLayout layout = dp_tiny_layout(*base);
  std::vector<float> theta0 = dp_random_adapter(layout, 8);
  std::vector<lora::TokenSeq> examples = dp_examples(7, 9);
  LocalTrainConfig config(LocalOptimizer opt, int epochs) const {
    LocalTrainConfig c;
    c.optimizer = opt;
    c.epochs = epochs;
    c.batch_size = 7;  // one batch of everyone per epoch: the shuffle cannot matter
    c.lr = 0.05;
    c.seed = 3;
    return c;
  }
};

// Δ after `steps` full-batch SGD steps of lr 0.05 from θ₀, in double.
std::vector<double> hand_sgd_delta(const Fixture& f, int steps) {
  std::vector<double> th(f.theta0.begin(), f.theta0.end());
  for (int s = 0; s < steps; ++s) {
    const auto g = full_batch_gradient(f.base, f.layout, th, f.examples);
    for (size_t i = 0; i < th.size(); ++i) th[i] -= 0.05 * g[i];
  }
  std::vector<double> delta(th.size());
  for (size_t i = 0; i < th.size(); ++i) delta[i] = th[i] - f.theta0[i];
  return delta;
}

TEST(LocalTraining, TwoSgdStepsMatchTheHandUpdate) {
  Fixture f;
  const auto up = train_local(f.base, f.layout, f.theta0, f.examples, f.config(LocalOptimizer::sgd, 2));
  EXPECT_EQ(up.steps, 2);
  EXPECT_LT(max_rel_diff(up.delta, hand_sgd_delta(f, 2)), 1e-4);
}

// Micro-batches (gradients accumulated over 3, 3 and 1 examples, or 1 at a time) and
// activation checkpointing change memory, not the update.
TEST(LocalTraining, MicroBatchesAndCheckpointingGiveTheHandUpdate) {
  Fixture f;
  const auto delta = hand_sgd_delta(f, 2);
  for (int micro : {1, 3})
    for (bool ckpt : {false, true}) {
      auto c = f.config(LocalOptimizer::sgd, 2);
      c.micro_batch_size = micro;
      c.activation_checkpointing = ckpt;
      const auto up = train_local(f.base, f.layout, f.theta0, f.examples, c);
      EXPECT_EQ(up.steps, 2);
      EXPECT_LT(max_rel_diff(up.delta, delta), 1e-4) << "micro-batch " << micro << (ckpt ? ", checkpointed" : "");
    }
  auto bad = f.config(LocalOptimizer::sgd, 1);
  bad.micro_batch_size = -1;
  EXPECT_THROW(train_local(f.base, f.layout, f.theta0, f.examples, bad), std::invalid_argument);
}

TEST(LocalTraining, TwoAdamStepsMatchTheHandUpdate) {
  Fixture f;
  const auto up = train_local(f.base, f.layout, f.theta0, f.examples, f.config(LocalOptimizer::adam, 2));
  EXPECT_EQ(up.steps, 2);
  const double b1 = 0.9, b2 = 0.999, eps = 1e-8, lr = 0.05;
  std::vector<double> th(f.theta0.begin(), f.theta0.end()), m(th.size(), 0.0), v(th.size(), 0.0);
  for (int t = 1; t <= 2; ++t) {
    const auto g = full_batch_gradient(f.base, f.layout, th, f.examples);
    for (size_t i = 0; i < th.size(); ++i) {
      m[i] = b1 * m[i] + (1 - b1) * g[i];
      v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i];
      const double mhat = m[i] / (1 - std::pow(b1, t)), vhat = v[i] / (1 - std::pow(b2, t));
      th[i] -= lr * mhat / (std::sqrt(vhat) + eps);
    }
  }
  std::vector<double> delta(th.size());
  for (size_t i = 0; i < th.size(); ++i) delta[i] = th[i] - f.theta0[i];
  // Adam's first step moves every coordinate with a gradient by ≈ lr: the check is sharp.
  EXPECT_LT(max_rel_diff(up.delta, delta), 1e-3);
  // max_steps = 2 over 5 epochs stops at the same point.
  auto capped = f.config(LocalOptimizer::adam, 5);
  capped.max_steps = 2;
  const auto up2 = train_local(f.base, f.layout, f.theta0, f.examples, capped);
  EXPECT_EQ(up2.steps, 2);
  EXPECT_EQ(up2.delta, up.delta);
}

TEST(LocalTraining, FedProxAddsMuTimesTheDriftToTheGradient) {
  Fixture f;
  auto c = f.config(LocalOptimizer::sgd, 2);
  c.fedprox_mu = 0.5;
  const auto up = train_local(f.base, f.layout, f.theta0, f.examples, c);
  std::vector<double> th(f.theta0.begin(), f.theta0.end());
  for (int s = 0; s < 2; ++s) {
    const auto g = full_batch_gradient(f.base, f.layout, th, f.examples);
    std::vector<double> next(th);
    for (size_t i = 0; i < th.size(); ++i) next[i] -= 0.05 * (g[i] + 0.5 * (th[i] - f.theta0[i]));
    th = next;
  }
  std::vector<double> delta(th.size());
  for (size_t i = 0; i < th.size(); ++i) delta[i] = th[i] - f.theta0[i];
  EXPECT_LT(max_rel_diff(up.delta, delta), 1e-4);
  // And it differs from plain FedAvg's update (the term is really there).
  const auto plain = train_local(f.base, f.layout, f.theta0, f.examples, f.config(LocalOptimizer::sgd, 2));
  std::vector<double> plain_d(plain.delta.begin(), plain.delta.end());
  EXPECT_GT(max_rel_diff(up.delta, plain_d), 1e-4);
}

TEST(LocalTraining, EpochsAndBatchesGiveTheHandCountedSteps) {
  Fixture f;
  auto c = f.config(LocalOptimizer::sgd, 3);
  c.batch_size = 3;  // 7 examples: batches of 3, 3, 1 → 3 steps per epoch
  const auto up = train_local(f.base, f.layout, f.theta0, f.examples, c);
  EXPECT_EQ(up.steps, 9);
  EXPECT_EQ(up.num_examples, 7);
  int64_t targets = 0;
  for (const auto& e : f.examples) targets += static_cast<int64_t>(e.size()) - 1;
  EXPECT_EQ(up.tokens, 3 * targets);  // every target token once per epoch
  c.max_steps = 4;
  EXPECT_EQ(train_local(f.base, f.layout, f.theta0, f.examples, c).steps, 4);
}

// FFA-LoRA (Sun et al., ICLR 2024): with freeze_a only lora_B moves, by the plain SGD step
// of its own gradient at the current θ (lora_A held at θ₀).
TEST(LocalTraining, FreezeALeavesLoraAExactlyAndStepsLoraBByHand) {
  Fixture f;
  auto c = f.config(LocalOptimizer::sgd, 2);
  c.freeze_a = true;
  const auto up = train_local(f.base, f.layout, f.theta0, f.examples, c);
  std::vector<double> th(f.theta0.begin(), f.theta0.end());
  for (int s = 0; s < 2; ++s) {
    const auto g = full_batch_gradient(f.base, f.layout, th, f.examples);
    for (const auto& t : f.layout.tensors())
      if (t.is_b)
        for (int64_t i = t.offset; i < t.offset + t.numel(); ++i) th[static_cast<size_t>(i)] -= 0.05 * g[static_cast<size_t>(i)];
  }
  std::vector<double> delta(th.size());
  for (size_t i = 0; i < th.size(); ++i) delta[i] = th[i] - f.theta0[i];
  int64_t a_entries = 0;
  for (const auto& t : f.layout.tensors()) {
    if (t.is_b) continue;
    for (int64_t i = t.offset; i < t.offset + t.numel(); ++i, ++a_entries)
      ASSERT_EQ(up.delta[static_cast<size_t>(i)], 0.0f) << t.name;
  }
  EXPECT_GT(a_entries, 0);
  EXPECT_LT(max_rel_diff(up.delta, delta), 1e-4);
  // The same run without freeze_a moves lora_A too (the check above is not vacuous).
  const auto both = train_local(f.base, f.layout, f.theta0, f.examples, f.config(LocalOptimizer::sgd, 2));
  EXPECT_NE(both.delta[static_cast<size_t>(f.layout.tensors()[0].offset)], 0.0f);
}

}  // namespace
}  // namespace fedlora::client
