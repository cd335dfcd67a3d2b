// lora_linear and frozen_linear with int8 base products (lora/int8) against fp32 mode.
#include <gtest/gtest.h>

#include <ATen/CPUGeneratorImpl.h>

#include "lora/model/frozen_ops.h"
#include "lora/model/lora_ops.h"

namespace fedlora::lora {
namespace {

// lora_linear in int8 mode: output and input gradient close to fp32 mode; the adapter
// gradients, computed from the same fp32 x and upstream δ, equal the float64 ones up to
// float rounding in both modes.
TEST(Int8Gemm, LoraLinearInt8MatchesFp32ModeAndKeepsFloatAdapterGradients) {
  const int64_t n = 2, t = 9, in = 64, out = 96, r = 4;
  auto gen = at::make_generator<at::CPUGeneratorImpl>(5);
  auto w = at::randn({out, in}, gen).mul_(0.05);
  const auto qw = QuantizedTensor::quantize(w.contiguous().data_ptr<float>(), out, in, GgmlType::Q8_0);
  auto x0 = at::randn({n, t, in}, gen);
  auto a0 = at::randn({r, in}, gen).mul_(0.1), b0 = at::randn({out, r}, gen).mul_(0.1);
  auto up = at::randn({n, t, out}, gen);
  struct Out { at::Tensor y, dx, da, db; };
  auto run = [&](BaseGemm g, bool keep_xa = false) {
    auto x = x0.clone().requires_grad_(true), a = a0.clone().requires_grad_(true), b = b0.clone().requires_grad_(true);
    auto y = lora_linear(x, qw, a, b, 2.0f, nullptr, 0, 1, g, keep_xa);
    y.backward(up);
    return Out{y.detach(), x.grad(), a.grad(), b.grad()};
  };
  const Out f = run(BaseGemm::fp32), i = run(BaseGemm::int8), k = run(BaseGemm::int8, /*keep_xa=*/true);
  auto rel = [](const at::Tensor& got, const at::Tensor& want) { return ((got - want).norm() / want.norm()).item<double>(); };
  EXPECT_LT(rel(i.y, f.y), 0.02);
  EXPECT_LT(rel(i.dx, f.dx), 0.02);
  // Both modes' adapter gradients against float64: g_A = s (δB)ᵀ x, g_B = s δᵀ (x Aᵀ).
  const auto x64 = x0.reshape({-1, in}).to(at::kDouble), d64 = up.reshape({-1, out}).to(at::kDouble);
  const auto da_ref = d64.mm(b0.to(at::kDouble)).t().mm(x64).mul(2.0);
  const auto db_ref = d64.t().mm(x64.mm(a0.to(at::kDouble).t())).mul(2.0);
  // x·Aᵀ kept from the forward pass gives the same outputs as recomputing it.
  EXPECT_TRUE(at::equal(k.y, i.y));
  EXPECT_TRUE(at::equal(k.dx, i.dx));
  for (const Out* o : {&f, &i, &k}) {
    EXPECT_LT(rel(o->da.to(at::kDouble), da_ref), 1e-6);
    EXPECT_LT(rel(o->db.to(at::kDouble), db_ref), 1e-6);
  }
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
