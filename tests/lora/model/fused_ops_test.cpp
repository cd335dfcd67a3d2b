// The fused ops (fused_ops.h, attention.h, blas.h) against the plain ATen compositions
// they replace, evaluated in double and differentiated by LibTorch's own autograd: values
// and gradients must agree within 1e-5 relative (max |error| / max |reference|). Every
// case runs on both kernel paths (AVX2+FMA where the CPU has it, and the scalar loops),
// with sizes that leave tails after the 8-wide chunks.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "lora/model/attention.h"
#include "lora/model/blas.h"
#include "lora/model/decoder.h"
#include "lora/model/fused_kernels.h"
#include "lora/model/frozen_ops.h"
#include "lora/model/fused_ops.h"
#include "lora/model/lora_ops.h"

namespace fedlora::lora {
namespace {

constexpr double kTol = 1e-5;

double rel_err(const at::Tensor& got, const at::Tensor& want) {
  auto g = got.detach().to(at::kDouble), w = want.detach().to(at::kDouble);
  EXPECT_EQ(g.sizes(), w.sizes());
  const double scale = std::max(w.abs().max().item<double>(), 1e-30);
  return (g - w).abs().max().item<double>() / scale;
}

at::Tensor randn(std::vector<int64_t> shape, uint64_t seed, double std = 1.0) {
  return at::normal(0.0, std, shape, at::make_generator<at::CPUGeneratorImpl>(seed));
}

// A float32 leaf and its double twin, both requiring grad.
struct Leaf {
  at::Tensor f, d;
  explicit Leaf(const at::Tensor& v) : f(v.clone().set_requires_grad(true)), d(v.to(at::kDouble).set_requires_grad(true)) {}
};

class FusedOps : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override { kernels::set_simd(GetParam()); }
  void TearDown() override { kernels::set_simd(true); }
};

at::Tensor ref_rms(const at::Tensor& x, const at::Tensor& w, double eps) {
  return x * at::rsqrt(x.pow(2).mean(-1, true) + eps) * w;
}

TEST_P(FusedOps, RmsNormMatchesComposition) {
  const double eps = 1e-5;
  Leaf x(randn({3, 5, 44}, 1)), w(randn({44}, 2, 0.5) + 1.0);
  auto y = rms_norm(x.f, w.f, eps);
  auto yr = ref_rms(x.d, w.d, eps);
  EXPECT_LT(rel_err(y, yr), kTol);
  auto g = randn({3, 5, 44}, 3);
  y.backward(g);
  yr.backward(g.to(at::kDouble));
  EXPECT_LT(rel_err(x.f.grad(), x.d.grad()), kTol);
  EXPECT_LT(rel_err(w.f.grad(), w.d.grad()), kTol);
}

TEST_P(FusedOps, RmsNormWithoutWeightGradient) {
  Leaf x(randn({4, 16}, 4));
  auto w = randn({16}, 5);  // frozen, as in the LoRA model
  auto y = rms_norm(x.f, w, 1e-6);
  auto yr = ref_rms(x.d, w.to(at::kDouble), 1e-6);
  auto g = randn({4, 16}, 6);
  y.backward(g);
  yr.backward(g.to(at::kDouble));
  EXPECT_LT(rel_err(x.f.grad(), x.d.grad()), kTol);
  EXPECT_FALSE(w.grad().defined());
}

TEST_P(FusedOps, AddRmsNormMatchesComposition) {
  const double eps = 1e-5;
  for (int used : {3, 2, 1}) {  // bit 1: normed is used, bit 0: sum is used
    Leaf x(randn({2, 7, 36}, 10)), dl(randn({2, 7, 36}, 11)), w(randn({36}, 12, 0.3) + 1.0);
    auto out = add_rms_norm(x.f, dl.f, w.f, eps);
    auto sum_r = x.d + dl.d;
    auto norm_r = ref_rms(sum_r, w.d, eps);
    EXPECT_LT(rel_err(out.sum, sum_r), kTol);
    EXPECT_LT(rel_err(out.normed, norm_r), kTol);
    auto g1 = randn({2, 7, 36}, 13), g2 = randn({2, 7, 36}, 14);
    at::Tensor loss = at::zeros({}, at::kFloat), loss_r = at::zeros({}, at::kDouble);
    if (used & 1) {
      loss = loss + (out.sum * g1).sum();
      loss_r = loss_r + (sum_r * g1.to(at::kDouble)).sum();
    }
    if (used & 2) {
      loss = loss + (out.normed * g2).sum();
      loss_r = loss_r + (norm_r * g2.to(at::kDouble)).sum();
    }
    loss.backward();
    loss_r.backward();
    EXPECT_LT(rel_err(x.f.grad(), x.d.grad()), kTol) << "used " << used;
    EXPECT_LT(rel_err(dl.f.grad(), dl.d.grad()), kTol) << "used " << used;
    if (used & 2) {
      EXPECT_LT(rel_err(w.f.grad(), w.d.grad()), kTol) << "used " << used;
    } else {
      EXPECT_FALSE(w.f.grad().defined() && w.f.grad().abs().max().item<double>() > 0);
    }
  }
}

TEST_P(FusedOps, SwigluMatchesComposition) {
  // Wide range, so both tails of the sigmoid are exercised.
  Leaf gate(randn({5, 43}, 20, 6.0)), up(randn({5, 43}, 21));
  auto y = swiglu(gate.f, up.f);
  auto yr = at::silu(gate.d) * up.d;
  EXPECT_LT(rel_err(y, yr), kTol);
  auto g = randn({5, 43}, 22);
  y.backward(g);
  yr.backward(g.to(at::kDouble));
  EXPECT_LT(rel_err(gate.f.grad(), gate.d.grad()), kTol);
  EXPECT_LT(rel_err(up.f.grad(), up.d.grad()), kTol);
}

TEST_P(FusedOps, CrossEntropyMatchesLogSoftmaxGather) {
  const int64_t m = 9, v = 53;
  auto z0 = randn({m, v}, 30, 4.0);
  z0[2][7] = 90.0f;  // a dominant logit: exp(z − max) must not overflow
  z0[3].fill_(-80.0f);
  Leaf z(z0);
  auto targets = at::randint(0, v, {m}, at::make_generator<at::CPUGeneratorImpl>(31));
  targets[4] = z0[4].argmax().item<int64_t>();  // at least one hit
  auto weights = at::tensor({1.0f, 0.0f, 1.0f, 0.5f, 1.0f, 1.0f, 0.0f, 2.0f, 1.0f});
  auto ce = cross_entropy(z.f, targets, weights);
  auto ref = -at::log_softmax(z.d, -1).gather(1, targets.unsqueeze(1)).squeeze(1) * weights.to(at::kDouble);
  EXPECT_LT(rel_err(ce.nll, ref), kTol);
  auto hit_ref = z0.argmax(-1).eq(targets).logical_and(weights.gt(0));
  EXPECT_TRUE(at::equal(ce.hit, hit_ref));
  EXPECT_GT(ce.hit.sum().item<int64_t>(), 0);
  auto g = randn({m}, 32);
  ce.nll.backward(g);
  ref.backward(g.to(at::kDouble));
  EXPECT_LT(rel_err(z.f.grad(), z.d.grad()), kTol);
  // Rows of weight 0 get exactly zero gradient.
  EXPECT_EQ(z.f.grad()[1].abs().max().item<float>(), 0.0f);
}

TEST_P(FusedOps, CrossEntropyWithoutWeightsAndBadTarget) {
  Leaf z(randn({4, 16}, 40));
  auto targets = at::tensor(std::vector<int64_t>{0, 15, 3, 9});
  auto ce = cross_entropy(z.f, targets);
  auto ref = -at::log_softmax(z.d, -1).gather(1, targets.unsqueeze(1)).squeeze(1);
  EXPECT_LT(rel_err(ce.nll, ref), kTol);
  ce.nll.sum().backward();
  ref.sum().backward();
  EXPECT_LT(rel_err(z.f.grad(), z.d.grad()), kTol);
  EXPECT_THROW(cross_entropy(z.f.detach(), at::tensor(std::vector<int64_t>{0, 16, 3, 9})), std::invalid_argument);
  EXPECT_THROW(cross_entropy(z.f.detach(), at::tensor(std::vector<int64_t>{0, -1, 3, 9})), std::invalid_argument);
  EXPECT_THROW(cross_entropy(z.f.detach(), targets.narrow(0, 0, 3)), std::invalid_argument);
}

// The plain composition the attention op replaces (the pre-fusion decoder code), in double.
at::Tensor ref_rope(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin) {
  const auto n = x.size(0), t = x.size(1), h = x.size(2), hd = x.size(3);
  auto xp = x.reshape({n, t, h, hd / 2, 2});
  auto x0 = xp.select(-1, 0), x1 = xp.select(-1, 1);
  auto c = cos.narrow(0, 0, t).view({1, t, 1, hd / 2});
  auto s = sin.narrow(0, 0, t).view({1, t, 1, hd / 2});
  return at::stack({x0 * c - x1 * s, x0 * s + x1 * c}, -1).reshape({n, t, h, hd});
}

at::Tensor ref_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& cos,
                         const at::Tensor& sin, int64_t h, int64_t kvh) {
  const int64_t n = q.size(0), t = q.size(1), hd = q.size(2) / h, g = h / kvh;
  auto qr = ref_rope(q.view({n, t, h, hd}), cos, sin).permute({0, 2, 1, 3});      // [N, H, T, hd]
  auto kr = ref_rope(k.view({n, t, kvh, hd}), cos, sin).permute({0, 2, 1, 3});    // [N, KV, T, hd]
  auto vv = v.view({n, t, kvh, hd}).permute({0, 2, 1, 3});
  kr = kr.repeat_interleave(g, 1);  // head h uses KV head h / g
  vv = vv.repeat_interleave(g, 1);
  auto mask = at::full({t, t}, -std::numeric_limits<double>::infinity(), at::kDouble).triu(1);
  auto p = at::softmax(at::matmul(qr, kr.transpose(-1, -2)) / std::sqrt(static_cast<double>(hd)) + mask, -1);
  return at::matmul(p, vv).permute({0, 2, 1, 3}).reshape({n, t, h * hd});
}

struct AttentionCase { int64_t n, t, h, kv, hd; };

// One case of rope_causal_attention with `products` against ref_attention in double: the
// output and the q, k, v gradients within tol (inputs from seeds seed … seed + 3). Returns
// the output's relative distance from the float32-products op on the same inputs.
double check_attention_case(AttentionCase c, FloatProducts products, double tol, uint64_t seed) {
  LlamaConfig cfg;
  cfg.n_heads = c.h;
  cfg.n_kv_heads = c.kv;
  cfg.dim = c.h * c.hd;
  auto rope = RopeTables::make(cfg, 160);
  Leaf q(randn({c.n, c.t, c.h * c.hd}, seed)), k(randn({c.n, c.t, c.kv * c.hd}, seed + 1)),
      v(randn({c.n, c.t, c.kv * c.hd}, seed + 2));
  auto y = rope_causal_attention(q.f, k.f, v.f, rope.cos, rope.sin, c.h, c.kv, products);
  auto y32 = rope_causal_attention(q.f.detach(), k.f.detach(), v.f.detach(), rope.cos, rope.sin, c.h, c.kv);
  auto yr = ref_attention(q.d, k.d, v.d, rope.cos.to(at::kDouble), rope.sin.to(at::kDouble), c.h, c.kv);
  EXPECT_LT(rel_err(y, yr), tol) << "T=" << c.t << " H=" << c.h << " KV=" << c.kv << " hd=" << c.hd;
  auto g = randn(y.sizes().vec(), seed + 3);
  y.backward(g);
  yr.backward(g.to(at::kDouble));
  EXPECT_LT(rel_err(q.f.grad(), q.d.grad()), tol) << "dq, T=" << c.t;
  EXPECT_LT(rel_err(k.f.grad(), k.d.grad()), tol) << "dk, T=" << c.t;
  EXPECT_LT(rel_err(v.f.grad(), v.d.grad()), tol) << "dv, T=" << c.t;
  return rel_err(y, y32.to(at::kDouble));
}

TEST_P(FusedOps, AttentionMatchesComposition) {
  // T = 130: five query row blocks (4 × 32, then 2) with their own key ranges.
  for (AttentionCase c : {AttentionCase{2, 9, 4, 2, 12}, AttentionCase{1, 17, 4, 4, 8}, AttentionCase{3, 5, 6, 2, 16},
                          AttentionCase{1, 1, 2, 1, 8}, AttentionCase{1, 130, 4, 2, 8}})
    check_attention_case(c, FloatProducts::fp32, kTol, 50);
}

// With bf16 products (the int8 fast path's choice) the op still computes the composition,
// within bf16's rounding (8 significand bits per operand, float32 sums), and visibly not in
// float32 (so the bf16 kernels did run).
TEST_P(FusedOps, AttentionWithBf16ProductsMatchesComposition) {
  if (!bf16_products_available()) GTEST_SKIP() << "this CPU has no AVX512_BF16";
  constexpr double kBf16Tol = 2e-2;  // measured: 0.24–0.79%
  for (AttentionCase c : {AttentionCase{2, 9, 4, 2, 12}, AttentionCase{1, 130, 4, 2, 8}, AttentionCase{1, 40, 8, 2, 64}})
    EXPECT_GT(check_attention_case(c, FloatProducts::bf16, kBf16Tol, 60), 1e-4) << "T=" << c.t;
}

TEST_P(FusedOps, AttentionRejectsBadShapes) {
  auto rope = RopeTables::make(LlamaConfig{}, 8);  // head_dim 32 → tables [8, 16]
  auto q = at::zeros({1, 4, 64}), k = at::zeros({1, 4, 32});
  EXPECT_THROW(rope_causal_attention(q, k, k, rope.cos, rope.sin, 2, 2), std::invalid_argument);  // kv dims
  EXPECT_THROW(rope_causal_attention(q, k, k, rope.cos, rope.sin, 2, 3), std::invalid_argument);  // H % KV
  auto q9 = at::zeros({1, 9, 64}), k9 = at::zeros({1, 9, 32});
  EXPECT_THROW(rope_causal_attention(q9, k9, k9, rope.cos, rope.sin, 2, 1), std::invalid_argument);  // T > table
}

// LoRA with a rank that is not a multiple of the 8-wide blocks and sizes with tails: the
// adapter-gradient kernel against LibTorch autograd of x Wᵀ + s (x Aᵀ) Bᵀ in double, for the
// batch gradient and for each example's gradient (one-example backward passes).
TEST_P(FusedOps, LoraGradientsOddRankMatchAutograd) {
  const int64_t n = 3, t = 150, in = 36, out = 20, r = 12;  // 150 rows: two row blocks
  const float s = 0.75f;
  auto w0 = randn({out, in}, 80, 0.2).contiguous();
  const auto w = QuantizedTensor::quantize(w0.data_ptr<float>(), out, in, GgmlType::F32);
  auto x0 = randn({n, t, in}, 81), a0 = randn({r, in}, 82, 0.3), b0 = randn({out, r}, 83, 0.3);
  auto g = randn({n, t, out}, 84);
  Leaf x(x0), a(a0), b(b0);
  PerExampleGrads sink;
  auto y = lora_linear(x.f, w, a.f, b.f, s, &sink, 0, 1);
  auto plain = [&](const at::Tensor& xx, const at::Tensor& aa, const at::Tensor& bb) {
    return at::matmul(xx, w0.to(at::kDouble).t()) + s * at::matmul(at::matmul(xx, aa.t()), bb.t());
  };
  auto yr = plain(x.d, a.d, b.d);
  EXPECT_LT(rel_err(y, yr), kTol);
  y.backward(g);
  yr.backward(g.to(at::kDouble));
  EXPECT_LT(rel_err(x.f.grad(), x.d.grad()), kTol);
  EXPECT_LT(rel_err(a.f.grad(), a.d.grad()), kTol);
  EXPECT_LT(rel_err(b.f.grad(), b.d.grad()), kTol);
  ASSERT_EQ(sink.grads.size(), 2u);
  ASSERT_EQ(sink.grads[0].sizes().vec(), (std::vector<int64_t>{n, r, in}));
  ASSERT_EQ(sink.grads[1].sizes().vec(), (std::vector<int64_t>{n, out, r}));
  for (int64_t i = 0; i < n; ++i) {
    Leaf ai(a0), bi(b0);
    plain(x0[i].to(at::kDouble), ai.d, bi.d).backward(g[i].to(at::kDouble));
    EXPECT_LT(rel_err(sink.grads[0][i], ai.d.grad()), kTol) << "example " << i;
    EXPECT_LT(rel_err(sink.grads[1][i], bi.d.grad()), kTol) << "example " << i;
  }
}

TEST(Attention, ScoresComputedSkipMaskedBlocks) {
  static_assert(kAttentionRowBlock == 32, "hand-computed values below assume blocks of 32");
  EXPECT_EQ(attention_scores_computed(1), 1);
  EXPECT_EQ(attention_scores_computed(32), 32 * 32);
  EXPECT_EQ(attention_scores_computed(128), 32 * (32 + 64 + 96 + 128));
  EXPECT_EQ(attention_scores_computed(130), 32 * (32 + 64 + 96 + 128) + 2 * 130);
}

INSTANTIATE_TEST_SUITE_P(KernelPaths, FusedOps, ::testing::Values(true, false),
                         [](const auto& info) { return info.param ? "simd" : "scalar"; });

// dequantized_view reuses the decoded values when asked for the same weight again; it must
// never hand out another weight's values, also when a freed weight's address is reused.
TEST(DequantizedView, ReuseNeverServesAnotherWeight) {
  auto make = [](uint64_t seed) {
    auto w = randn({64, 96}, seed, 0.1).contiguous();
    return QuantizedTensor::quantize(w.data_ptr<float>(), 64, 96, GgmlType::Q8_0);
  };
  auto ref = [](const at::Tensor& x, const QuantizedTensor& q) {
    auto w = at::empty({q.rows(), q.cols()}, at::kFloat);
    for (int64_t r = 0; r < q.rows(); ++r) q.dequantize_row_ref(r, w.data_ptr<float>() + r * q.cols());
    return at::matmul(x.to(at::kDouble), w.to(at::kDouble).t());
  };
  auto x = randn({5, 96}, 90);
  const auto w1 = make(91), w2 = make(92);
  for (const auto* w : {&w1, &w2, &w1, &w1, &w2}) EXPECT_LT(rel_err(frozen_linear(x, *w), ref(x, *w)), kTol);
  for (uint64_t seed = 100; seed < 104; ++seed) {  // temporaries of one shape, allocated in turn
    const auto w = make(seed);
    EXPECT_LT(rel_err(frozen_linear(x, w), ref(x, w)), kTol) << "seed " << seed;
  }
}

// Both paths of sgemm_rowmajor: the BLAS's sgemm_ and the ATen fallback.
class Sgemm : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    set_direct_blas(GetParam());
    if (GetParam() && !direct_blas_available()) GTEST_SKIP() << "no sgemm_ symbol in this process";
  }
  void TearDown() override { set_direct_blas(true); }
};

TEST_P(Sgemm, RowMajorTransposesAndStridesEqualMatmul) {
  for (bool ta : {false, true})
    for (bool tb : {false, true}) {
      const int64_t m = 7, n = 5, k = 9, pad = 3;
      auto a = randn({ta ? k : m, (ta ? m : k) + pad}, 60), b = randn({tb ? n : k, (tb ? k : n) + pad}, 61);
      auto c = randn({m, n + pad}, 62);
      auto av = a.narrow(1, 0, ta ? m : k), bv = b.narrow(1, 0, tb ? k : n);
      auto opa = ta ? av.t() : av, opb = tb ? bv.t() : bv;
      auto want = 0.5 * c.narrow(1, 0, n).to(at::kDouble) + 2.0 * at::mm(opa.to(at::kDouble), opb.to(at::kDouble));
      auto keep = c.narrow(1, n, pad).clone();
      sgemm_rowmajor(ta, tb, m, n, k, 2.0f, a.data_ptr<float>(), a.size(1), b.data_ptr<float>(), b.size(1), 0.5f,
                     c.data_ptr<float>(), c.size(1));
      EXPECT_LT(rel_err(c.narrow(1, 0, n), want), kTol) << ta << tb;
      EXPECT_TRUE(at::equal(c.narrow(1, n, pad), keep)) << "wrote outside the [m, n] block";
    }
}

TEST_P(Sgemm, BetaZeroIgnoresNaNInOutput) {
  auto a = randn({3, 4}, 70), b = randn({4, 2}, 71);
  auto c = at::full({3, 2}, std::numeric_limits<float>::quiet_NaN());
  sgemm_rowmajor(false, false, 3, 2, 4, 1.0f, a.data_ptr<float>(), 4, b.data_ptr<float>(), 2, 0.0f, c.data_ptr<float>(), 2);
  EXPECT_LT(rel_err(c, at::mm(a.to(at::kDouble), b.to(at::kDouble))), kTol);
}

INSTANTIATE_TEST_SUITE_P(Paths, Sgemm, ::testing::Values(true, false),
                         [](const auto& info) { return info.param ? "direct" : "aten"; });

}  // namespace
}  // namespace fedlora::lora
