// LoRA and frozen-weight ops against independent computations: a double-precision matmul
// over the reference dequantizer, LibTorch autograd of the plain LoRA expression, and
// per-example gradients from one-example backward passes.
#include <gtest/gtest.h>

#include <torch/csrc/autograd/autograd.h>

#include "lora/model/frozen_ops.h"
#include "lora/model/lora_model.h"
#include "lora/model/lora_ops.h"
#include "lora/adapter/adapter_init.h"
#include "tests/lora/model/tiny.h"

namespace fedlora::lora {
namespace {

QuantizedTensor random_weight(int64_t rows, int64_t cols, GgmlType type, uint64_t seed) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  auto w = at::normal(0.0, 0.1, {rows, cols}, gen).contiguous();
  return QuantizedTensor::quantize(w.data_ptr<float>(), rows, cols, type);
}

at::Tensor reference_dequant(const QuantizedTensor& q) {
  auto out = at::empty({q.rows(), q.cols()}, at::kFloat);
  for (int64_t r = 0; r < q.rows(); ++r) q.dequantize_row_ref(r, out.data_ptr<float>() + r * q.cols());
  return out;
}

class FrozenLinearTypes : public ::testing::TestWithParam<GgmlType> {};

TEST_P(FrozenLinearTypes, EqualsDoubleMatmulOverReferenceDequant) {
  const auto w = random_weight(96, 64, GetParam(), 3);
  auto x = at::randn({2, 5, 64}, at::make_generator<at::CPUGeneratorImpl>(4));
  auto y = frozen_linear(x, w);
  auto ref = at::matmul(x.to(at::kDouble), reference_dequant(w).to(at::kDouble).t());
  ASSERT_EQ(y.sizes().vec(), (std::vector<int64_t>{2, 5, 96}));
  EXPECT_LT((y.to(at::kDouble) - ref).abs().max().item<double>(), 1e-5);
}

TEST_P(FrozenLinearTypes, GradientReachesInputOnly) {
  const auto w = random_weight(32, 64, GetParam(), 5);
  auto x = at::randn({3, 64}).set_requires_grad(true);
  auto g = at::randn({3, 32});
  auto y = frozen_linear(x, w);
  y.backward(g);
  auto ref = at::matmul(g.to(at::kDouble), reference_dequant(w).to(at::kDouble));
  EXPECT_LT((x.grad().to(at::kDouble) - ref).abs().max().item<double>(), 1e-5);
}

INSTANTIATE_TEST_SUITE_P(AllTypes, FrozenLinearTypes,
                         ::testing::Values(GgmlType::F32, GgmlType::F16, GgmlType::Q8_0, GgmlType::Q4_0));

TEST(LoraLinear, ZeroBEqualsBase) {
  const auto w = random_weight(96, 64, GgmlType::Q8_0, 1);
  auto x = at::randn({2, 7, 64});
  auto a = at::randn({8, 64}), b = at::zeros({96, 8});
  auto y = lora_linear(x, w, a, b, 2.0f);
  EXPECT_TRUE(at::equal(y, frozen_linear(x, w)));
}

TEST(LoraLinear, MergedWeightGivesSameOutput) {
  const auto w = random_weight(96, 64, GgmlType::Q4_0, 2);
  auto x = at::randn({2, 7, 64});
  auto a = at::randn({8, 64}) * 0.1, b = at::randn({96, 8}) * 0.1;
  const double s = 16.0 / 8.0;
  auto merged = reference_dequant(w).to(at::kDouble) + s * at::mm(b.to(at::kDouble), a.to(at::kDouble));
  auto ref = at::matmul(x.to(at::kDouble), merged.t());
  auto y = lora_linear(x, w, a, b, static_cast<float>(s));
  EXPECT_LT((y.to(at::kDouble) - ref).abs().max().item<double>(), 1e-5);
}

TEST(LoraLinear, BackwardMatchesAutogradOfPlainExpression) {
  const auto w = random_weight(96, 64, GgmlType::F16, 9);
  const float s = 2.0f;
  auto x0 = at::randn({3, 5, 64}), a0 = at::randn({4, 64}) * 0.2, b0 = at::randn({96, 4}) * 0.2;
  auto g = at::randn({3, 5, 96});
  auto x = x0.clone().set_requires_grad(true), a = a0.clone().set_requires_grad(true),
       b = b0.clone().set_requires_grad(true);
  lora_linear(x, w, a, b, s).backward(g);
  // Plain expression, differentiated by LibTorch's own autograd, in double.
  auto W = reference_dequant(w).to(at::kDouble);
  auto xr = x0.to(at::kDouble).set_requires_grad(true), ar = a0.to(at::kDouble).set_requires_grad(true),
       br = b0.to(at::kDouble).set_requires_grad(true);
  auto yr = at::matmul(xr, W.t()) + s * at::matmul(at::matmul(xr, ar.t()), br.t());
  yr.backward(g.to(at::kDouble));
  EXPECT_LT((x.grad().to(at::kDouble) - xr.grad()).abs().max().item<double>(), 1e-4);
  EXPECT_LT((a.grad().to(at::kDouble) - ar.grad()).abs().max().item<double>(), 1e-4);
  EXPECT_LT((b.grad().to(at::kDouble) - br.grad()).abs().max().item<double>(), 1e-4);
}

TEST(LoraLinear, RejectsWrongShapes) {
  const auto w = random_weight(96, 64, GgmlType::F32, 1);
  EXPECT_THROW(lora_linear(at::randn({2, 32}), w, at::randn({8, 64}), at::zeros({96, 8}), 1.0f), std::invalid_argument);
  EXPECT_THROW(lora_linear(at::randn({2, 64}), w, at::randn({8, 32}), at::zeros({96, 8}), 1.0f), std::invalid_argument);
  EXPECT_THROW(lora_linear(at::randn({2, 64}), w, at::randn({8, 64}), at::zeros({96, 4}), 1.0f), std::invalid_argument);
  PerExampleGrads sink;
  EXPECT_THROW(lora_linear(at::randn({2, 64}), w, at::randn({8, 64}), at::zeros({96, 8}), 1.0f, &sink), std::invalid_argument);
}

std::shared_ptr<const BaseModel> tiny_base(GgmlType type) {
  DenseModel dense(test::tiny_config(), 11);
  return make_base_model(dense.config(), dense.named_weights(), type);
}

std::vector<float> random_adapter(const AdapterLayout& layout, uint64_t seed) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  auto v = at::normal(0.0, 0.05, {layout.size()}, gen).contiguous();
  return std::vector<float>(v.data_ptr<float>(), v.data_ptr<float>() + v.numel());
}

TEST(LoraModel, OnlyAdapterTensorsReceiveGradients) {
  auto base = tiny_base(GgmlType::Q8_0);
  LoraAdapter adapter(make_adapter_layout(base->config, 4, 8.0f, {TargetModule::q, TargetModule::v, TargetModule::down}));
  adapter.load_flat(random_adapter(adapter.layout(), 1));
  LoraModel model(base, adapter);
  auto tokens = at::randint(0, 64, {2, 10}, at::make_generator<at::CPUGeneratorImpl>(2));
  auto loss = lm_loss(model, tokens);
  loss.sum.backward();
  for (const auto& t : adapter.tensors()) {
    ASSERT_TRUE(t.grad().defined());
    EXPECT_GT(t.grad().abs().sum().item<double>(), 0.0);
  }
  // Nothing else in the model is a tensor that can hold a gradient.
  EXPECT_FALSE(base->output_norm.requires_grad());
  for (const auto& b : base->blocks) {
    EXPECT_FALSE(b.attn_norm.requires_grad());
    EXPECT_FALSE(b.ffn_norm.requires_grad());
  }
  EXPECT_FALSE(model.embed(tokens).requires_grad());
}

TEST(LoraModel, FreshAdapterLeavesBaseOutputUnchanged) {
  auto base = tiny_base(GgmlType::Q4_0);
  auto layout = make_adapter_layout(base->config, 8, 16.0f,
                                    {TargetModule::q, TargetModule::k, TargetModule::v, TargetModule::o,
                                     TargetModule::gate, TargetModule::up, TargetModule::down});
  LoraAdapter adapter(layout);
  adapter.load_flat(init_adapter_vector(layout, 5));
  LoraAdapter none(make_adapter_layout(base->config, 1, 1.0f, {TargetModule::q}));  // all zeros
  LoraModel with(base, adapter), without(base, none);
  auto tokens = at::randint(0, 64, {2, 12}, at::make_generator<at::CPUGeneratorImpl>(3));
  EXPECT_TRUE(at::allclose(decoder_forward(with, tokens), decoder_forward(without, tokens), 0, 0));
}

// The batched pass runs without and with activation checkpointing; the one-example passes
// it is checked against store their activations.
class PerExampleGradients : public ::testing::TestWithParam<bool> {};

TEST_P(PerExampleGradients, EqualOneExampleBackwardPasses) {
  auto base = tiny_base(GgmlType::Q8_0);
  auto layout = make_adapter_layout(base->config, 4, 8.0f,
                                    {TargetModule::q, TargetModule::k, TargetModule::v, TargetModule::o,
                                     TargetModule::gate, TargetModule::up, TargetModule::down});
  LoraAdapter adapter(layout);
  const auto theta = random_adapter(layout, 4);
  adapter.load_flat(theta);
  LoraModel model(base, adapter);
  const int64_t n = 4;
  auto tokens = at::randint(0, 64, {n, 12}, at::make_generator<at::CPUGeneratorImpl>(5));
  PerExampleGrads sink;
  model.set_activation_checkpointing(GetParam());
  model.set_per_example_sink(&sink);
  lm_loss(model, tokens).sum.backward();
  model.set_per_example_sink(nullptr);
  ASSERT_EQ(sink.grads.size(), layout.tensors().size());
  std::vector<at::Tensor> batch_grads;
  for (const auto& t : adapter.tensors()) batch_grads.push_back(t.grad().clone());

  for (int64_t i = 0; i < n; ++i) {
    LoraAdapter single(layout);
    single.load_flat(theta);
    LoraModel m1(base, single);
    lm_loss(m1, tokens.narrow(0, i, 1)).sum.backward();
    for (size_t k = 0; k < layout.tensors().size(); ++k) {
      auto expect = single.tensors()[k].grad();
      auto got = sink.grads[k][i];
      EXPECT_LT((expect - got).abs().max().item<double>(), 1e-5) << "example " << i << " tensor " << layout.tensors()[k].name;
    }
  }
  // The summed gradient reaching the leaves is the sum of the per-example ones.
  for (size_t k = 0; k < layout.tensors().size(); ++k)
    EXPECT_LT((batch_grads[k] - sink.grads[k].sum(0)).abs().max().item<double>(), 1e-5) << layout.tensors()[k].name;
}

INSTANTIATE_TEST_SUITE_P(Checkpointing, PerExampleGradients, ::testing::Bool(),
                         [](const auto& info) { return info.param ? "Checkpointed" : "Stored"; });

TEST(LoraModel, AdapterLayoutMismatchIsRejected) {
  auto base = tiny_base(GgmlType::F32);
  LlamaConfig other = base->config;
  other.dim = 32;
  other.ffn_dim = 64;
  other.n_heads = 2;
  other.n_kv_heads = 1;
  LoraAdapter adapter(make_adapter_layout(other, 4, 8.0f, {TargetModule::q}));
  EXPECT_THROW(LoraModel(base, adapter), AdapterError);
}

TEST(LoraModel, FewAdamStepsLowerTheLoss) {
  auto base = tiny_base(GgmlType::Q8_0);
  auto layout = make_adapter_layout(base->config, 8, 16.0f, {TargetModule::q, TargetModule::v, TargetModule::up});
  LoraAdapter adapter(layout);
  adapter.load_flat(init_adapter_vector(layout, 1));
  LoraModel model(base, adapter);
  auto tokens = at::randint(0, 64, {4, 16}, at::make_generator<at::CPUGeneratorImpl>(6));
  std::vector<at::Tensor> m, v;
  for (auto& t : adapter.tensors()) {
    m.push_back(at::zeros_like(t));
    v.push_back(at::zeros_like(t));
  }
  double first = 0, last = 0;
  for (int step = 1; step <= 30; ++step) {
    for (auto& t : adapter.tensors()) t.mutable_grad() = at::Tensor();
    auto loss = lm_loss(model, tokens);
    auto mean = loss.sum / static_cast<double>(loss.n_targets);
    mean.backward();
    if (step == 1) first = mean.item<double>();
    last = mean.item<double>();
    at::NoGradGuard ng;
    for (size_t k = 0; k < adapter.tensors().size(); ++k) {  // plain Adam, lr 1e-2
      auto g = adapter.tensors()[k].grad();
      m[k].mul_(0.9).add_(g, 0.1);
      v[k].mul_(0.999).addcmul_(g, g, 0.001);
      auto mh = m[k] / (1 - std::pow(0.9, step)), vh = v[k] / (1 - std::pow(0.999, step));
      adapter.tensors()[k].sub_(mh / (vh.sqrt() + 1e-8) * 1e-2);
    }
  }
  EXPECT_LT(last, first - 0.5) << "first " << first << " last " << last;
}

}  // namespace
}  // namespace fedlora::lora
