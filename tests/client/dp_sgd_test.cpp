// Example-level DP-SGD trainer (client/train/dp_sgd.h, per_example_clip.h) against
// independent truth: per-example gradients from one-example backward passes, the privacy
// library's reference dp_sgd_noisy_gradient on the same noise stream, a plain summed-gradient
// SGD step, hand-computed plans and the Binomial moments of Poisson lots.
#include <gtest/gtest.h>

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <numeric>

#include "client/train/dp_sgd.h"
#include "client/train/local_trainer.h"
#include "client/train/per_example_clip.h"
#include "privacy/dpsgd/dp_sgd.h"
#include "privacy/errors.h"
#include "privacy/sampling/poisson_sampler.h"
#include "tests/client/dp_fixture.h"

namespace fedlora::client {
namespace {

using test::dp_examples;
using test::dp_random_adapter;
using test::dp_tiny_base;
using test::dp_tiny_layout;

at::Tensor tokens_of(const lora::TokenSeq& s) {
  return at::tensor(std::vector<int64_t>(s.begin(), s.end()), at::kLong).view({1, -1});
}

// ∇L_i from a one-example backward pass on a fresh adapter (no sink, no batching, no padding).
std::vector<float> single_example_gradient(std::shared_ptr<const lora::BaseModel> base,
                                           const lora::AdapterLayout& layout, const std::vector<float>& theta,
                                           const lora::TokenSeq& ex, PerExampleLoss kind) {
  lora::LoraAdapter a(layout);
  a.load_flat(theta);
  lora::LoraModel m(std::move(base), a);
  auto loss = lora::lm_loss(m, tokens_of(ex)).sum;
  if (kind == PerExampleLoss::token_mean) loss = loss / static_cast<double>(ex.size() - 1);
  loss.backward();
  return a.grad_to_flat();
}

double max_abs(const std::vector<float>& v) {
  double m = 0;
  for (float x : v) m = std::max(m, std::abs(static_cast<double>(x)));
  return m;
}

double max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  EXPECT_EQ(a.size(), b.size());
  double m = 0;
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i)
    m = std::max(m, std::abs(static_cast<double>(a[i]) - static_cast<double>(b[i])));
  return m;
}

LocalTrainConfig dp_config(DpSgdTrainConfig dp) {
  LocalTrainConfig c;
  c.optimizer = LocalOptimizer::sgd;
  c.lr = 0.1;
  c.dp = dp;
  return c;
}

TEST(PerExampleClip, ClippedNormsAreAtMostCAndUnclippedExamplesUntouched) {
  auto base = dp_tiny_base();
  const auto layout = dp_tiny_layout(*base);
  const auto theta = dp_random_adapter(layout, 3);
  const auto examples = dp_examples(6, 4);
  lora::LoraAdapter adapter(layout);
  adapter.load_flat(theta);
  lora::LoraModel model(base, adapter);
  std::vector<size_t> idx(examples.size());
  std::iota(idx.begin(), idx.end(), 0);
  auto batch = lora::pack_batch(examples, idx);
  lora::PerExampleGrads sink;
  model.set_per_example_sink(&sink);
  lora::lm_loss(model, batch.tokens, batch.mask).sum.backward();
  model.set_per_example_sink(nullptr);

  // Independent norms: ‖g_i‖² summed tensor by tensor in double.
  const auto b = static_cast<int64_t>(examples.size());
  std::vector<double> expect_norm(examples.size(), 0.0);
  for (const auto& g : sink.grads)
    for (int64_t i = 0; i < b; ++i) expect_norm[i] += g[i].to(at::kDouble).square().sum().item<double>();
  for (double& n : expect_norm) n = std::sqrt(n);
  auto sorted = expect_norm;
  std::sort(sorted.begin(), sorted.end());
  ASSERT_LT(sorted[2], 0.99 * sorted[3]);
  const double clip = 0.5 * (sorted[2] + sorted[3]);  // midway: the 3 largest get clipped
  std::vector<at::Tensor> before;
  for (const auto& g : sink.grads) before.push_back(g.clone());

  const auto norms = clip_per_example(sink, layout, clip);
  ASSERT_EQ(norms.size(), examples.size());
  int clipped = 0;
  for (int64_t i = 0; i < b; ++i) {
    EXPECT_NEAR(norms[i], expect_norm[i], 1e-9 * expect_norm[i]);
    double after = 0;
    for (const auto& g : sink.grads) after += g[i].to(at::kDouble).square().sum().item<double>();
    after = std::sqrt(after);
    EXPECT_LE(after, clip) << "example " << i;
    if (expect_norm[i] > clip) {
      ++clipped;
      EXPECT_NEAR(after, clip, 1e-5 * clip);
      const double f = clip / expect_norm[i];  // direction kept: g ← g · C/‖g‖
      for (size_t k = 0; k < sink.grads.size(); ++k)
        EXPECT_TRUE(at::allclose(sink.grads[k][i], before[k][i] * f, 1e-5, 1e-9));
    } else {
      for (size_t k = 0; k < sink.grads.size(); ++k) EXPECT_TRUE(at::equal(sink.grads[k][i], before[k][i]));
    }
  }
  EXPECT_EQ(clipped, 3);
}

TEST(PerExampleClip, NonFiniteGradientIsRejectedBeforeAnyClipping) {
  auto base = dp_tiny_base();
  const auto layout = dp_tiny_layout(*base);
  lora::PerExampleGrads g;
  for (const auto& t : layout.tensors()) g.grads.push_back(at::full({2, t.rows, t.cols}, 10.0f));
  g.grads.back()[1][0][0] = std::nanf("");
  const auto first = g.grads.front().clone();
  EXPECT_THROW(clip_per_example(g, layout, 1.0), privacy::NonFiniteValueError);
  EXPECT_TRUE(at::equal(g.grads.front(), first));
}

TEST(PerExampleClip, MisshapenSinkIsRejected) {
  auto base = dp_tiny_base();
  const auto layout = dp_tiny_layout(*base);
  lora::PerExampleGrads g;
  EXPECT_THROW(per_example_l2_norms(g, layout), std::invalid_argument);
  for (const auto& t : layout.tensors()) g.grads.push_back(at::zeros({2, t.rows, t.cols}));
  g.grads[3] = at::zeros({3, layout.tensors()[3].rows, layout.tensors()[3].cols});
  EXPECT_THROW(per_example_l2_norms(g, layout), std::invalid_argument);
}

class NoisyGradientVsReference : public ::testing::TestWithParam<PerExampleLoss> {};

TEST_P(NoisyGradientVsReference, EqualsPrivacyLibraryOnTheSameNoiseStream) {
  auto base = dp_tiny_base();
  const auto layout = dp_tiny_layout(*base);
  const auto theta = dp_random_adapter(layout, 5);
  const auto examples = dp_examples(10, 6);
  DpSgdTrainConfig dp;
  dp.noise_multiplier = 1.1;
  dp.sampling_rate = 0.4;
  dp.steps = 3;
  dp.per_example_loss = GetParam();
  dp.noise = SimulationNoise{77, 3, 2};
  // C between the per-example norms so that the lot has clipped and unclipped examples.
  const std::vector<size_t> lot = {0, 2, 3, 5, 9};
  privacy::PerExampleGradients rows(static_cast<Eigen::Index>(lot.size()), layout.size());
  std::vector<double> norms;
  for (size_t i = 0; i < lot.size(); ++i) {
    const auto g = single_example_gradient(base, layout, theta, examples[lot[i]], GetParam());
    rows.row(static_cast<Eigen::Index>(i)) = Eigen::Map<const Eigen::RowVectorXf>(g.data(), layout.size());
    norms.push_back(rows.row(static_cast<Eigen::Index>(i)).cast<double>().norm());
  }
  std::sort(norms.begin(), norms.end());
  dp.l2_norm_clip = 0.5 * (norms[2] + norms[3]);  // midway: the 2 largest are clipped, robust to rounding
  ASSERT_LT(norms[2], 0.99 * norms[3]);

  DpSgdTrainer trainer(base, layout, theta, examples, dp_config(dp));
  const auto st = trainer.step(lot);
  EXPECT_EQ(st.lot_size, 5);
  EXPECT_EQ(st.clipped, 2);

  privacy::DpSgdConfig ref_cfg;
  ref_cfg.l2_norm_clip = dp.l2_norm_clip;
  ref_cfg.noise_multiplier = dp.noise_multiplier;
  ref_cfg.sampling_rate = dp.sampling_rate;
  ref_cfg.dataset_size = static_cast<int64_t>(examples.size());
  auto ref_noise = privacy::NoiseSource::from_seed(77, {3, 2, privacy::noise_stream::kDpSgdNoise});
  const Eigen::VectorXf ref = privacy::dp_sgd_noisy_gradient(rows, ref_cfg, ref_noise);
  const std::vector<float> expect(ref.data(), ref.data() + ref.size());
  const auto& got = trainer.last_noisy_gradient();
  const double scale = max_abs(expect);
  EXPECT_LT(max_abs_diff(got, expect), 2e-5 * scale);

  // Micro-batches of 2 examples with checkpointing: clipping is per example, so a fresh
  // trainer on the same noise stream privatizes the same sum, holding 2 examples' gradients.
  auto split_cfg = dp_config(dp);
  split_cfg.micro_batch_size = 2;
  split_cfg.activation_checkpointing = true;
  DpSgdTrainer split(base, layout, theta, examples, split_cfg);
  const auto st_split = split.step(lot);
  EXPECT_EQ(st_split.clipped, 2);
  EXPECT_EQ(st_split.tokens, st.tokens);
  EXPECT_NEAR(st_split.loss, st.loss, 1e-5 * st.loss);
  EXPECT_LT(max_abs_diff(split.last_noisy_gradient(), expect), 2e-5 * scale);
  EXPECT_EQ(split.last_per_example_bytes() * 5, trainer.last_per_example_bytes() * 2);

  // The comparison can fail: the same gradients with another noise stream are far off.
  auto other_noise = privacy::NoiseSource::from_seed(77, {3, 3, privacy::noise_stream::kDpSgdNoise});
  const Eigen::VectorXf other = privacy::dp_sgd_noisy_gradient(rows, ref_cfg, other_noise);
  EXPECT_GT(max_abs_diff(got, std::vector<float>(other.data(), other.data() + other.size())), 0.1 * scale);

  // An empty lot is still a step: pure noise N(0, σ²C²)/(qN) from the same stream, continued.
  trainer.step({});
  const privacy::PerExampleGradients none(0, layout.size());
  const Eigen::VectorXf ref_empty = privacy::dp_sgd_noisy_gradient(none, ref_cfg, ref_noise);
  EXPECT_LT(max_abs_diff(trainer.last_noisy_gradient(),
                         std::vector<float>(ref_empty.data(), ref_empty.data() + ref_empty.size())),
            1e-6 * max_abs(trainer.last_noisy_gradient()));
}

INSTANTIATE_TEST_SUITE_P(Losses, NoisyGradientVsReference,
                         ::testing::Values(PerExampleLoss::token_mean, PerExampleLoss::token_sum),
                         [](const auto& info) { return per_example_loss_name(info.param); });

TEST(DpSgdTrainer, NoiselessFullLotStepEqualsPlainSummedGradientStep) {
  auto base = dp_tiny_base();
  const auto layout = dp_tiny_layout(*base);
  const auto theta = dp_random_adapter(layout, 8);
  const auto examples = dp_examples(7, 9);
  const double lr = 0.5;
  for (auto kind : {PerExampleLoss::token_sum, PerExampleLoss::token_mean}) {
    DpSgdTrainConfig dp;
    dp.noise_multiplier = 0.0;
    dp.sampling_rate = 1.0;
    dp.l2_norm_clip = 1e6;
    dp.steps = 1;
    dp.per_example_loss = kind;
    dp.noise = SimulationNoise{1, 2, 3};
    auto cfg = dp_config(dp);
    cfg.lr = lr;
    const auto update = train_local(base, layout, theta, examples, cfg);  // through the dispatch hook
    ASSERT_TRUE(update.dp.has_value());
    EXPECT_EQ(update.steps, 1);
    EXPECT_EQ(update.dp->sampled_examples, 7);  // q = 1 takes everyone
    EXPECT_EQ(update.dp->clipped_examples, 0);

    // Plain step: one ordinary backward pass of Σ_i L_i over the padded batch, no sink.
    lora::LoraAdapter a(layout);
    a.load_flat(theta);
    lora::LoraModel m(base, a);
    std::vector<size_t> idx(examples.size());
    std::iota(idx.begin(), idx.end(), 0);
    auto batch = lora::pack_batch(examples, idx);
    auto loss = lora::lm_loss(m, batch.tokens, batch.mask);
    at::Tensor objective = loss.sum;
    if (kind == PerExampleLoss::token_mean) {
      std::vector<float> inv;
      for (const auto& e : examples) inv.push_back(1.0f / static_cast<float>(e.size() - 1));
      objective = (loss.per_example * at::tensor(inv)).sum();
    }
    objective.backward();
    const auto grad = a.grad_to_flat();
    std::vector<float> expect(grad.size());
    for (size_t i = 0; i < grad.size(); ++i) expect[i] = static_cast<float>(-lr * grad[i] / 7.0);  // ÷ q·N = 7
    EXPECT_LT(max_abs_diff(update.delta, expect), 1e-5 * max_abs(expect)) << per_example_loss_name(kind);
    EXPECT_GT(max_abs(expect), 1e-4);
  }
}

TEST(DpSgdTrainer, FedProxTermIsAddedAfterTheNoise) {
  auto base = dp_tiny_base();
  const auto layout = dp_tiny_layout(*base);
  const auto theta0 = dp_random_adapter(layout, 18);
  const auto examples = dp_examples(5, 19);
  const double lr = 0.5, mu = 0.7;
  DpSgdTrainConfig dp;
  dp.noise_multiplier = 0.0;
  dp.sampling_rate = 1.0;
  dp.l2_norm_clip = 1e6;
  dp.steps = 2;
  dp.per_example_loss = PerExampleLoss::token_sum;
  dp.noise = SimulationNoise{1, 1, 1};
  auto cfg = dp_config(dp);
  cfg.lr = lr;
  cfg.fedprox_mu = mu;
  const auto u = train_local(base, layout, theta0, examples, cfg);

  // By hand: θ1 = θ0 − lr·g(θ0)/N;  θ2 = θ1 − lr·(g(θ1)/N + μ(θ1 − θ0)), g = ∇ Σ_i L_i.
  auto grad_at = [&](const std::vector<float>& th) {
    lora::LoraAdapter a(layout);
    a.load_flat(th);
    lora::LoraModel m(base, a);
    std::vector<size_t> idx(examples.size());
    std::iota(idx.begin(), idx.end(), 0);
    auto batch = lora::pack_batch(examples, idx);
    lora::lm_loss(m, batch.tokens, batch.mask).sum.backward();
    return a.grad_to_flat();
  };
  const double n = 5.0;
  auto g0 = grad_at(theta0);
  std::vector<float> theta1(theta0.size()), expect(theta0.size());
  for (size_t i = 0; i < theta0.size(); ++i) theta1[i] = static_cast<float>(theta0[i] - lr * g0[i] / n);
  auto g1 = grad_at(theta1);
  for (size_t i = 0; i < theta0.size(); ++i) {
    const double th2 = theta1[i] - lr * (g1[i] / n + mu * (static_cast<double>(theta1[i]) - theta0[i]));
    expect[i] = static_cast<float>(th2 - theta0[i]);
  }
  EXPECT_LT(max_abs_diff(u.delta, expect), 1e-5 * max_abs(expect));
}

TEST(DpSgdTrainer, PoissonLotsHaveBinomialMomentsAndUseTheSamplingStream) {
  auto base = dp_tiny_base();
  const auto layout = dp_tiny_layout(*base);
  const auto examples = dp_examples(40, 10);
  DpSgdTrainConfig dp;
  dp.sampling_rate = 0.1;
  dp.noise = SimulationNoise{5, 6, 7};
  DpSgdTrainer trainer(base, layout, dp_random_adapter(layout, 1), examples, dp_config(dp));
  auto independent = privacy::NoiseSource::from_seed(5, {6, 7, privacy::noise_stream::kExampleSampling});
  const int draws = 4000;
  double sum = 0, sum_sq = 0;
  for (int d = 0; d < draws; ++d) {
    const auto lot = trainer.sample_lot();
    const auto expect = privacy::poisson_sample(40, 0.1, independent);
    ASSERT_EQ(lot.size(), expect.size());
    for (size_t i = 0; i < lot.size(); ++i) ASSERT_EQ(lot[i], static_cast<size_t>(expect[i]));
    ASSERT_TRUE(std::is_sorted(lot.begin(), lot.end()));
    sum += static_cast<double>(lot.size());
    sum_sq += static_cast<double>(lot.size() * lot.size());
  }
  const double mean = sum / draws, var = sum_sq / draws - mean * mean;
  // Binomial(40, 0.1): mean 4, variance 3.6; the mean's standard error is √(3.6/4000) ≈ 0.03.
  EXPECT_NEAR(mean, 4.0, 5 * std::sqrt(3.6 / draws));
  EXPECT_NEAR(var, 3.6, 0.4);
}

TEST(DpSgdTrainer, EmptyLotsStillCountAsStepsAndAddNoise) {
  auto base = dp_tiny_base();
  const auto layout = dp_tiny_layout(*base);
  const auto examples = dp_examples(20, 12);
  const auto theta = dp_random_adapter(layout, 13);
  DpSgdTrainConfig dp;
  dp.sampling_rate = 0.03;  // P(empty lot) = 0.97^20 ≈ 0.54
  dp.steps = 30;
  dp.noise = SimulationNoise{9, 1, 1};
  const auto u = train_local(base, layout, theta, examples, dp_config(dp));
  ASSERT_TRUE(u.dp.has_value());
  EXPECT_EQ(u.steps, 30);
  EXPECT_EQ(u.dp->plan.steps, 30);
  EXPECT_GT(u.dp->empty_steps, 5);
  EXPECT_LT(u.dp->empty_steps, 30);
  EXPECT_GT(max_abs(u.delta), 0.0);
  EXPECT_TRUE(u.dp->deterministic_noise);
}

TEST(DpSgdTrainer, SameSeedGivesTheSameUpdate) {
  auto base = dp_tiny_base();
  const auto layout = dp_tiny_layout(*base);
  const auto examples = dp_examples(12, 14);
  const auto theta = dp_random_adapter(layout, 15);
  DpSgdTrainConfig dp;
  dp.sampling_rate = 0.25;
  dp.steps = 4;
  dp.l2_norm_clip = 0.5;
  dp.noise = SimulationNoise{21, 4, 9};
  auto cfg = dp_config(dp);
  cfg.optimizer = LocalOptimizer::adam;
  cfg.lr = 1e-3;
  const auto a = train_local(base, layout, theta, examples, cfg);
  const auto b = train_local(base, layout, theta, examples, cfg);
  EXPECT_EQ(a.delta, b.delta);
  EXPECT_EQ(a.dp->sampled_examples, b.dp->sampled_examples);

  cfg.dp->noise = SimulationNoise{21, 4, 10};  // next round: other lots and noise
  const auto c = train_local(base, layout, theta, examples, cfg);
  EXPECT_NE(a.delta, c.delta);

  cfg.dp->noise = ProductionNoise{};  // OS entropy: never reproducible
  const auto p1 = train_local(base, layout, theta, examples, cfg);
  const auto p2 = train_local(base, layout, theta, examples, cfg);
  EXPECT_FALSE(p1.dp->deterministic_noise);
  EXPECT_NE(p1.delta, p2.delta);
}

TEST(DpSgdPlan, DerivesRateAndStepsAsDocumented) {
  DpSgdTrainConfig dp;
  // q = B / N = 8 / 100, T = ⌈1 / 0.08⌉ = ⌈12.5⌉ = 13.
  auto p = plan_dp_sgd(dp, 1, 8, 0, 100);
  EXPECT_DOUBLE_EQ(p.sampling_rate, 0.08);
  EXPECT_EQ(p.steps, 13);
  EXPECT_DOUBLE_EQ(p.expected_batch_size(), 8.0);
  // q = 0.1 exactly → 2 epochs are 20 steps, not 21.
  dp.sampling_rate = 0.1;
  EXPECT_EQ(plan_dp_sgd(dp, 2, 8, 0, 50).steps, 20);
  EXPECT_EQ(plan_dp_sgd(dp, 2, 8, 7, 50).steps, 7);  // max_steps caps T
  // Fewer examples than B: q = 1, T = epochs.
  dp.sampling_rate = 0;
  p = plan_dp_sgd(dp, 3, 8, 0, 5);
  EXPECT_DOUBLE_EQ(p.sampling_rate, 1.0);
  EXPECT_EQ(p.steps, 3);
  dp.steps = 42;
  EXPECT_EQ(plan_dp_sgd(dp, 3, 8, 0, 5).steps, 42);
}

TEST(DpSgdPlan, RejectsBadSettings) {
  auto bad = [](auto edit) {
    DpSgdTrainConfig dp;
    edit(dp);
    return dp;
  };
  EXPECT_THROW(bad([](auto& d) { d.l2_norm_clip = 0; }).validate(), std::invalid_argument);
  EXPECT_THROW(bad([](auto& d) { d.l2_norm_clip = INFINITY; }).validate(), std::invalid_argument);
  EXPECT_THROW(bad([](auto& d) { d.noise_multiplier = -1; }).validate(), std::invalid_argument);
  EXPECT_THROW(bad([](auto& d) { d.noise_multiplier = NAN; }).validate(), std::invalid_argument);
  EXPECT_THROW(bad([](auto& d) { d.sampling_rate = 1.5; }).validate(), std::invalid_argument);
  EXPECT_THROW(bad([](auto& d) { d.steps = -1; }).validate(), std::invalid_argument);
  DpSgdTrainConfig dp;
  dp.sampling_rate = 1e-12;
  EXPECT_THROW(plan_dp_sgd(dp, 1, 8, 0, 10), std::invalid_argument);  // 10^12 steps
  EXPECT_THROW(plan_dp_sgd(DpSgdTrainConfig{}, 1, 8, 0, 0), std::invalid_argument);
  LocalTrainConfig c;
  c.dp = bad([](auto& d) { d.l2_norm_clip = -2; });
  EXPECT_THROW(c.validate(), std::invalid_argument);
  EXPECT_EQ(parse_per_example_loss("token_sum"), PerExampleLoss::token_sum);
  EXPECT_THROW(parse_per_example_loss("mean"), std::invalid_argument);
}

TEST(DpSgdTrainer, PlainTrainingIsUnchangedWhenDpIsOff) {
  auto base = dp_tiny_base();
  const auto layout = dp_tiny_layout(*base);
  const auto examples = dp_examples(6, 16);
  LocalTrainConfig cfg;
  cfg.batch_size = 3;
  const auto u = train_local(base, layout, dp_random_adapter(layout, 17), examples, cfg);
  EXPECT_FALSE(u.dp.has_value());
  EXPECT_EQ(u.steps, 2);  // one epoch of shuffled batches of 3 over 6 examples
}

// FFA-LoRA with DP-SGD: per-example gradients are clipped by their lora_B norm alone, and
// lora_A gets neither gradient nor noise. Reference: each example's gradient from its own
// backward pass, restricted to lora_B, clipped to C, summed, ÷ q·N, one SGD step.
TEST(DpSgdTrainer, FreezeAClipsByTheLoraBNormAndNeverMovesLoraA) {
  auto base = dp_tiny_base();
  const auto layout = dp_tiny_layout(*base);
  const auto theta = dp_random_adapter(layout, 8);
  const auto examples = dp_examples(7, 9);
  const double lr = 0.5, clip = 0.05;
  DpSgdTrainConfig dp;
  dp.noise_multiplier = 0.0;
  dp.sampling_rate = 1.0;
  dp.l2_norm_clip = clip;
  dp.steps = 1;
  dp.per_example_loss = PerExampleLoss::token_sum;
  dp.noise = SimulationNoise{1, 2, 3};
  auto cfg = dp_config(dp);
  cfg.lr = lr;
  cfg.freeze_a = true;
  const auto update = train_local(base, layout, theta, examples, cfg);

  std::vector<double> sum(static_cast<size_t>(layout.size()), 0.0);
  int clipped = 0;
  for (size_t e = 0; e < examples.size(); ++e) {
    lora::LoraAdapter a(layout);
    a.load_flat(theta);
    lora::LoraModel m(base, a);
    const size_t one[] = {e};
    auto batch = lora::pack_batch(examples, one);
    lora::lm_loss(m, batch.tokens, batch.mask).sum.backward();
    const auto g = a.grad_to_flat();
    double norm2 = 0;
    for (const auto& t : layout.tensors())
      if (t.is_b)
        for (int64_t i = t.offset; i < t.offset + t.numel(); ++i) norm2 += double(g[size_t(i)]) * g[size_t(i)];
    const double factor = std::min(1.0, clip / std::sqrt(norm2));
    clipped += factor < 1.0 ? 1 : 0;
    for (const auto& t : layout.tensors())
      if (t.is_b)
        for (int64_t i = t.offset; i < t.offset + t.numel(); ++i) sum[size_t(i)] += factor * g[size_t(i)];
  }
  ASSERT_GT(clipped, 0) << "C must bind for this check to mean anything";
  EXPECT_EQ(update.dp->clipped_examples, clipped);
  std::vector<float> expect(sum.size());
  for (size_t i = 0; i < sum.size(); ++i) expect[i] = static_cast<float>(-lr * sum[i] / 7.0);
  EXPECT_LT(max_abs_diff(update.delta, expect), 1e-5 * max_abs(expect));

  // With noise on, lora_A still does not move by a single bit.
  dp.noise_multiplier = 1.0;
  auto noisy = dp_config(dp);
  noisy.lr = lr;
  noisy.freeze_a = true;
  const auto u2 = train_local(base, layout, theta, examples, noisy);
  for (const auto& t : layout.tensors())
    for (int64_t i = t.offset; i < t.offset + t.numel(); ++i)
      if (!t.is_b) ASSERT_EQ(u2.delta[size_t(i)], 0.0f) << t.name;
}

}  // namespace
}  // namespace fedlora::client
