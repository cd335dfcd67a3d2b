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
#include "tests/lora/model/tiny.h"

namespace fedlora::lora {
namespace {

double rel_err(const at::Tensor& got, const at::Tensor& want) {
  auto g = got.detach().to(at::kDouble), w = want.detach().to(at::kDouble);
  EXPECT_EQ(g.sizes(), w.sizes());
  return (g - w).abs().max().item<double>() / std::max(w.abs().max().item<double>(), 1e-30);
}

at::Tensor rms(const at::Tensor& x, const at::Tensor& w, double eps) {
  return x * at::rsqrt(x.pow(2).mean(-1, true) + eps) * w;
}

// x: [N, T, H, hd], adjacent pairs rotated by p·θ_i.
at::Tensor rope(const at::Tensor& x, const RopeTables& tab) {
  const auto n = x.size(0), t = x.size(1), h = x.size(2), hd = x.size(3);
  auto xp = x.reshape({n, t, h, hd / 2, 2});
  auto x0 = xp.select(-1, 0), x1 = xp.select(-1, 1);
  auto c = tab.cos.narrow(0, 0, t).to(at::kDouble).view({1, t, 1, hd / 2});
  auto s = tab.sin.narrow(0, 0, t).to(at::kDouble).view({1, t, 1, hd / 2});
  return at::stack({x0 * c - x1 * s, x0 * s + x1 * c}, -1).reshape({n, t, h, hd});
}

struct RefLoss {
  at::Tensor per_example, logits;
};

RefLoss reference(const LlamaConfig& cfg, std::map<std::string, at::Tensor>& w, const at::Tensor& tokens,
                  const at::Tensor& mask) {
  const int64_t n = tokens.size(0), t = tokens.size(1) - 1, h = cfg.n_heads, kv = cfg.n_kv_heads,
                hd = cfg.head_dim(), g = h / kv;
  const auto tab = RopeTables::make(cfg, cfg.context_length);
  auto inputs = tokens.narrow(1, 0, t), targets = tokens.narrow(1, 1, t);
  auto x = at::embedding(w[kTokenEmbdName], inputs);
  auto causal = at::full({t, t}, -std::numeric_limits<double>::infinity(), at::kDouble).triu(1);
  for (int l = 0; l < cfg.n_layers; ++l) {
    auto proj = [&](TargetModule m, const at::Tensor& in) { return at::matmul(in, w[gguf_projection_name(l, m)].t()); };
    auto hn = rms(x, w[gguf_attn_norm_name(l)], cfg.norm_eps);
    auto q = rope(proj(TargetModule::q, hn).view({n, t, h, hd}), tab).permute({0, 2, 1, 3});
    auto k = rope(proj(TargetModule::k, hn).view({n, t, kv, hd}), tab).permute({0, 2, 1, 3}).repeat_interleave(g, 1);
    auto v = proj(TargetModule::v, hn).view({n, t, kv, hd}).permute({0, 2, 1, 3}).repeat_interleave(g, 1);
    auto p = at::softmax(at::matmul(q, k.transpose(-1, -2)) / std::sqrt(static_cast<double>(hd)) + causal, -1);
    auto ctx = at::matmul(p, v).permute({0, 2, 1, 3}).reshape({n, t, h * hd});
    x = x + proj(TargetModule::o, ctx);
    auto hf = rms(x, w[gguf_ffn_norm_name(l)], cfg.norm_eps);
    x = x + proj(TargetModule::down, at::silu(proj(TargetModule::gate, hf)) * proj(TargetModule::up, hf));
  }
  auto logits = at::matmul(rms(x, w[kOutputNormName], cfg.norm_eps), w[kTokenEmbdName].t());
  auto nll = -at::log_softmax(logits, -1).gather(-1, targets.unsqueeze(-1)).squeeze(-1);
  nll = nll * mask.narrow(1, 1, t).to(at::kDouble);
  return {nll.sum(1), logits};
}

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
  auto ref = reference(cfg, w, tokens, mask);
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
