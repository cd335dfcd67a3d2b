// lm_loss end to end (fused ops wired into the decoder) against the plain ATen composition
// of the Llama equations in double, differentiated by LibTorch's autograd: loss, per-example
// loss, accuracy and the gradient of every trainable tensor of a dense model, with a mask
// and sequences longer than one attention row block.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <map>

#include "lora/model/decoder.h"
#include "lora/model/dense_model.h"
#include "lora/model/gguf_names.h"
#include "tests/lora/model/llama_reference.h"
#include "tests/lora/model/tiny.h"

namespace fedlora::lora {
namespace {
using test::rel_err;

// Without and with activation checkpointing (the recomputed blocks must give the same
// gradients, norm weights included).
class DecoderGradients : public ::testing::TestWithParam<bool> {};

TEST_P(DecoderGradients, LmLossMatchesPlainCompositionInDouble) {
  LlamaConfig cfg = test::tiny_config();
  cfg.context_length = 80;  // > one attention row block (64)
  DenseModel model(cfg, 5);
  model.set_activation_checkpointing(GetParam());
  {
    at::NoGradGuard ng;  // non-trivial norm weights
    for (int l = 0; l < cfg.n_layers; ++l) {
      model.attn_norm(l).uniform_(0.5, 1.5);
      model.ffn_norm(l).uniform_(0.5, 1.5);
    }
    model.output_norm().uniform_(0.5, 1.5);
  }
  const int64_t n = 3, t = 77;
  auto gen = at::make_generator<at::CPUGeneratorImpl>(6);
  auto tokens = at::randint(0, cfg.vocab_size, {n, t + 1}, gen);
  auto mask = at::ones({n, t + 1}, at::kFloat);
  mask[1].narrow(0, 50, t + 1 - 50).zero_();  // a padded sequence
  mask[2][5] = 0.0f;

  auto loss = lm_loss(model, tokens, mask);
  loss.sum.backward();

  std::map<std::string, at::Tensor> w;
  for (const auto& [name, p] : model.named_weights()) w[name] = p.detach().to(at::kDouble).set_requires_grad(true);
  auto ref = test::reference_lm_loss(cfg, w, tokens, mask);
  auto ref_sum = ref.per_example.sum();
  ref_sum.backward();

  EXPECT_LT(rel_err(loss.per_example, ref.per_example), 1e-5);
  EXPECT_LT(rel_err(loss.sum, ref_sum), 1e-5);
  auto m = mask.narrow(1, 1, t);
  EXPECT_EQ(loss.n_targets, m.gt(0).sum().item<int64_t>());
  auto hits = ref.logits.argmax(-1).eq(tokens.narrow(1, 1, t)).logical_and(m.gt(0)).sum().item<int64_t>();
  EXPECT_EQ(loss.correct.item<int64_t>(), hits);
  for (const auto& [name, p] : model.named_weights()) {
    ASSERT_TRUE(p.grad().defined()) << name;
    EXPECT_LT(rel_err(p.grad(), w[name].grad()), 1e-5) << name;
  }
}

INSTANTIATE_TEST_SUITE_P(Checkpointing, DecoderGradients, ::testing::Bool(),
                         [](const auto& info) { return info.param ? "Checkpointed" : "Stored"; });

}  // namespace
}  // namespace fedlora::lora
