// Int8 base products (SwitchBack-style) against hand-computed quantization, exact integer
// cases, and a float64 reference on random data; lora_linear in int8 mode against fp32.
#include <gtest/gtest.h>

#include <ATen/CPUGeneratorImpl.h>

#include <cmath>
#include <limits>
#include <vector>

#include "lora/model/frozen_ops.h"
#include "lora/model/int8_gemm.h"
#include "lora/model/lora_ops.h"

namespace fedlora::lora {
namespace {

TEST(Int8Gemm, RowQuantizationRoundsHalfToEvenAgainstTheRowMaximum) {
  // s = 254 / 127 = 2: 1/2 → 0, 3/2 → 2, −5/2 → −2, −127/2 → −64 (ties to even), 63/2 → 32.
  const std::vector<float> x = {254, 1, 3, -5, -127, 63, 0, 0};
  std::vector<int8_t> q(8);
  float s = 0;
  quantize_rows_s8(x.data(), 1, 8, nullptr, q.data(), &s);
  EXPECT_FLOAT_EQ(s, 2.0f);
  EXPECT_EQ(q, (std::vector<int8_t>{127, 0, 2, -2, -64, 32, 0, 0}));
  // Column multipliers apply before the scale: x·c = {254, 2, ...} with c = {1, 2, 1, ...}.
  const std::vector<float> c = {1, 2, 1, 1, 1, 1, 1, 1};
  quantize_rows_s8(x.data(), 1, 8, c.data(), q.data(), &s);
  EXPECT_EQ(q[1], 1);
  // A zero row: scale 0, codes 0. A NaN or Inf anywhere is refused.
  const std::vector<float> z(16, 0.0f);
  std::vector<int8_t> qz(16, 5);
  quantize_rows_s8(z.data(), 1, 16, nullptr, qz.data(), &s);
  EXPECT_EQ(s, 0.0f);
  for (auto v : qz) EXPECT_EQ(v, 0);
  for (float bad : {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity()}) {
    std::vector<float> y(20, 1.0f);
    y[17] = bad;  // in the vector tail as well as the body below
    EXPECT_THROW(quantize_rows_s8(y.data(), 1, 20, nullptr, qz.data(), &s), std::invalid_argument);
    y[17] = 1.0f;
    y[3] = bad;
    EXPECT_THROW(quantize_rows_s8(y.data(), 1, 20, nullptr, qz.data(), &s), std::invalid_argument);
  }
}

// Integer operands whose rows reach ±127 quantize exactly (scale 1), so both products are
// exact: compared with float64 matmul for equality.
TEST(Int8Gemm, IntegerOperandsGiveExactProducts) {
  const int64_t m = 5, in = 70, out = 37;  // odd sizes: the vector loops' tails
  auto gen = at::make_generator<at::CPUGeneratorImpl>(3);
  auto x = at::randint(-127, 128, {m, in}, gen).to(at::kFloat);
  auto w = at::randint(-127, 128, {out, in}, gen).to(at::kFloat);
  auto d = at::randint(-127, 128, {m, out}, gen).to(at::kFloat);
  x.select(1, 0).fill_(127);  // every row's max |.| is 127
  w.select(1, 1).fill_(-127);
  d.select(1, 2).fill_(127);
  const auto qw = QuantizedTensor::quantize(w.contiguous().data_ptr<float>(), out, in, GgmlType::F32);
  const Int8Weight& iw = int8_weight_view(qw);
  for (float s : iw.scale) ASSERT_FLOAT_EQ(s, 1.0f);
  auto y = at::empty({m, out});
  int8_linear_forward(x.data_ptr<float>(), m, iw, y.data_ptr<float>());
  EXPECT_TRUE(at::equal(y.to(at::kDouble), at::matmul(x.to(at::kDouble), w.to(at::kDouble).t())));
  auto dx = at::empty({m, in});
  int8_linear_backward(d.data_ptr<float>(), m, iw, dx.data_ptr<float>());
  EXPECT_TRUE(at::equal(dx.to(at::kDouble), at::matmul(d.to(at::kDouble), w.to(at::kDouble))));
}

// Random data through a Q4_0 weight: the int8 products stay within the quantization error
// of the float64 products of the dequantized weight (relative Frobenius error < 2%).
TEST(Int8Gemm, RandomProductsAreCloseToFloat64) {
  const int64_t m = 33, in = 96, out = 64;
  auto gen = at::make_generator<at::CPUGeneratorImpl>(4);
  auto x = at::randn({m, in}, gen), d = at::randn({m, out}, gen);
  auto w = at::randn({out, in}, gen).mul_(0.02);
  w[3].mul_(50.0);  // rows of very different scale: per-row scales must handle them
  const auto qw = QuantizedTensor::quantize(w.contiguous().data_ptr<float>(), out, in, GgmlType::Q4_0);
  auto wd = at::empty({out, in});
  qw.dequantize_rows(0, out, wd.data_ptr<float>());
  const Int8Weight& iw = int8_weight_view(qw);
  auto y = at::empty({m, out}), dx = at::empty({m, in});
  int8_linear_forward(x.data_ptr<float>(), m, iw, y.data_ptr<float>());
  int8_linear_backward(d.data_ptr<float>(), m, iw, dx.data_ptr<float>());
  auto rel = [](const at::Tensor& got, const at::Tensor& want) {
    return ((got.to(at::kDouble) - want).norm() / want.norm()).item<double>();
  };
  const auto y_ref = at::matmul(x.to(at::kDouble), wd.to(at::kDouble).t());
  const auto dx_ref = at::matmul(d.to(at::kDouble), wd.to(at::kDouble));
  EXPECT_LT(rel(y, y_ref), 0.02);
  EXPECT_LT(rel(dx, dx_ref), 0.02);
  // Not trivially close: the error is that of 8-bit operands, well above float rounding.
  EXPECT_GT(rel(y, y_ref), 1e-5);
}

// lora_linear in int8 mode: output and input gradient close to fp32 mode; the adapter
// gradients, computed from the same fp32 x and upstream δ, are identical.
TEST(Int8Gemm, LoraLinearInt8MatchesFp32ModeAndKeepsExactAdapterGradients) {
  const int64_t n = 2, t = 9, in = 64, out = 96, r = 4;
  auto gen = at::make_generator<at::CPUGeneratorImpl>(5);
  auto w = at::randn({out, in}, gen).mul_(0.05);
  const auto qw = QuantizedTensor::quantize(w.contiguous().data_ptr<float>(), out, in, GgmlType::Q8_0);
  auto x0 = at::randn({n, t, in}, gen);
  auto a0 = at::randn({r, in}, gen).mul_(0.1), b0 = at::randn({out, r}, gen).mul_(0.1);
  auto up = at::randn({n, t, out}, gen);
  struct Out { at::Tensor y, dx, da, db; };
  auto run = [&](BaseGemm g) {
    auto x = x0.clone().requires_grad_(true), a = a0.clone().requires_grad_(true), b = b0.clone().requires_grad_(true);
    auto y = lora_linear(x, qw, a, b, 2.0f, nullptr, 0, 1, g);
    y.backward(up);
    return Out{y.detach(), x.grad(), a.grad(), b.grad()};
  };
  const Out f = run(BaseGemm::fp32), i = run(BaseGemm::int8);
  auto rel = [](const at::Tensor& got, const at::Tensor& want) { return ((got - want).norm() / want.norm()).item<double>(); };
  EXPECT_LT(rel(i.y, f.y), 0.02);
  EXPECT_LT(rel(i.dx, f.dx), 0.02);
  EXPECT_TRUE(at::allclose(i.da, f.da, 1e-5, 1e-6));
  EXPECT_TRUE(at::allclose(i.db, f.db, 1e-5, 1e-6));
  // frozen_linear in int8 mode too.
  auto xf = x0.clone().requires_grad_(true);
  auto yf = frozen_linear(xf, qw, BaseGemm::int8);
  yf.backward(up);
  auto xr = x0.clone().requires_grad_(true);
  auto yr = frozen_linear(xr, qw);
  yr.backward(up);
  EXPECT_LT(rel(yf.detach(), yr.detach()), 0.02);
  EXPECT_LT(rel(xf.grad(), xr.grad()), 0.02);
}

}  // namespace
}  // namespace fedlora::lora
