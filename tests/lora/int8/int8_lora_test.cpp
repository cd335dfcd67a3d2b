// The LoRA path fused into the int8 base products (int8_lora.h): the base part must equal
// int8_linear_* exactly (it is the same int8 product), and the adapter part must match a
// float64 evaluation of s·(x·Aᵀ)·Bᵀ and s·(δ·B)·A. Odd shapes: row counts across the block
// size, columns off the vector width, ranks below, at and above 8. Torch-free (also aarch64).
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "lora/int8/int8_lora.h"
#include "lora/quant/quantized_tensor.h"

namespace fedlora::lora {
namespace {

std::vector<float> normal(size_t n, std::mt19937& rng, float sd = 1.0f) {
  std::normal_distribution<float> nd(0.0f, sd);
  std::vector<float> v(n);
  for (auto& x : v) x = nd(rng);
  return v;
}

// |got − want| ≤ tol · (1 + Σ|terms|): float32 rounding of a sum of `terms`.
void expect_close(double got, double want, double magnitude, const std::string& where) {
  EXPECT_LE(std::fabs(got - want), 2e-6 * (1.0 + magnitude)) << where << ": " << got << " vs " << want;
}

struct Case {
  int64_t m, in, out, r;
};

// Each case on each kernel path this CPU has (the widest one allowed is the parameter).
class Int8Lora : public ::testing::TestWithParam<std::tuple<Case, Int8LoraKernels>> {
 protected:
  void SetUp() override { set_int8_lora_kernels(std::get<1>(GetParam())); }
  void TearDown() override { set_int8_lora_kernels(Int8LoraKernels::avx512); }
};

TEST_P(Int8Lora, ForwardIsTheInt8ProductPlusTheAdapterInFloat64) {
  const auto [m, in, out, r] = std::get<0>(GetParam());
  SCOPED_TRACE(int8_lora_kernels());
  std::mt19937 rng(static_cast<unsigned>(m * 131 + r));
  const auto x = normal(m * in, rng), a = normal(r * in, rng, 0.1f), b = normal(out * r, rng, 0.1f);
  const auto wf = normal(out * in, rng, 0.05f);
  const auto qw = QuantizedTensor::quantize(wf.data(), out, in, GgmlType::Q8_0);
  set_int8_weight_cache_bytes(0);
  const Int8Weight& w = int8_weight_view(qw);
  const float s = 2.0f;
  std::vector<float> base(m * out), y(m * out), xa(m * r);
  int8_linear_forward(x.data(), m, w, base.data());
  int8_lora_forward(x.data(), m, w, a.data(), b.data(), r, s, y.data(), xa.data());
  for (int64_t i = 0; i < m; ++i) {
    std::vector<double> p(r);
    double pmag = 0;
    for (int64_t t = 0; t < r; ++t) {
      double mag = 0;
      for (int64_t j = 0; j < in; ++j) {
        p[t] += double{x[i * in + j]} * a[t * in + j];
        mag += std::fabs(double{x[i * in + j]} * a[t * in + j]);
      }
      expect_close(xa[i * r + t], p[t], mag, "xa " + std::to_string(i) + "," + std::to_string(t));
      pmag += mag;
    }
    for (int64_t o = 0; o < out; ++o) {
      double lora = 0, mag = std::fabs(base[i * out + o]);
      for (int64_t t = 0; t < r; ++t) {
        lora += s * p[t] * b[o * r + t];
        mag += std::fabs(s * p[t] * b[o * r + t]);
      }
      if (r == 0) {
        EXPECT_EQ(y[i * out + o], base[i * out + o]);
      } else {
        expect_close(y[i * out + o], double{base[i * out + o]} + lora, mag + pmag,
                     "y " + std::to_string(i) + "," + std::to_string(o));
      }
    }
  }
}

TEST_P(Int8Lora, BackwardIsTheInt8ProductPlusTheAdapterInFloat64) {
  const auto [m, in, out, r] = std::get<0>(GetParam());
  SCOPED_TRACE(int8_lora_kernels());
  std::mt19937 rng(static_cast<unsigned>(m * 17 + r + 5));
  const auto d = normal(m * out, rng), a = normal(r * in, rng, 0.1f), b = normal(out * r, rng, 0.1f);
  const auto wf = normal(out * in, rng, 0.05f);
  const auto qw = QuantizedTensor::quantize(wf.data(), out, in, GgmlType::Q8_0);
  set_int8_weight_cache_bytes(0);
  const Int8Weight& w = int8_weight_view(qw);
  const float s = 0.5f;
  std::vector<float> base(m * in), dx(m * in), db(m * r);
  int8_linear_backward(d.data(), m, w, base.data());
  int8_lora_backward(d.data(), m, w, a.data(), b.data(), r, s, dx.data(), db.data());
  for (int64_t i = 0; i < m; ++i) {
    std::vector<double> p(r);
    double pmag = 0;
    for (int64_t t = 0; t < r; ++t) {
      double mag = 0;
      for (int64_t o = 0; o < out; ++o) {
        p[t] += double{d[i * out + o]} * b[o * r + t];
        mag += std::fabs(double{d[i * out + o]} * b[o * r + t]);
      }
      expect_close(db[i * r + t], p[t], mag, "δB " + std::to_string(i) + "," + std::to_string(t));
      pmag += mag;
    }
    for (int64_t j = 0; j < in; ++j) {
      double lora = 0, mag = std::fabs(base[i * in + j]);
      for (int64_t t = 0; t < r; ++t) {
        lora += s * p[t] * a[t * in + j];
        mag += std::fabs(s * p[t] * a[t * in + j]);
      }
      expect_close(dx[i * in + j], double{base[i * in + j]} + lora, mag + pmag,
                   "dx " + std::to_string(i) + "," + std::to_string(j));
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Shapes, Int8Lora,
                         ::testing::Combine(::testing::Values(Case{1, 32, 8, 1}, Case{5, 64, 13, 8}, Case{37, 96, 45, 3},
                                                              Case{70, 64, 40, 11}, Case{33, 128, 9, 0},
                                                              Case{9, 64, 70, 16}, Case{6, 32, 35, 4}),
                                            ::testing::Values(Int8LoraKernels::portable, Int8LoraKernels::avx2,
                                                              Int8LoraKernels::avx512)));

// A cached (packed) weight is multiplied panel by panel (PackedS8Matrix::kPanelCols columns)
// with each int32 block rescaled on the spot; a plain weight in one block. Both must give
// the same floats, bit for bit, across panel boundaries and a narrower last panel.
TEST(Int8LoraPanels, PackedWeightsGiveThePlainResultsExactly) {
  for (auto kernels : {Int8LoraKernels::portable, Int8LoraKernels::avx2, Int8LoraKernels::avx512}) {
    set_int8_lora_kernels(kernels);
    SCOPED_TRACE(int8_lora_kernels());
    const int64_t m = 37, in = 288, out = 530, r = 8;  // in: Q4_0 needs a multiple of 32
    std::mt19937 rng(77);
    const auto x = normal(m * in, rng), d = normal(m * out, rng), a = normal(r * in, rng, 0.1f),
               b = normal(out * r, rng, 0.1f), wf = normal(out * in, rng, 0.05f);
    // Two copies of one weight, so that the cache builds each afresh (an entry is found by
    // its bytes, and a plain entry would be served as it is).
    const auto qw_plain = QuantizedTensor::quantize(wf.data(), out, in, GgmlType::Q4_0);
    const auto qw_packed = QuantizedTensor::quantize(wf.data(), out, in, GgmlType::Q4_0);
    struct Results {
      std::vector<float> y, xa, dx, db, base_y, base_dx;
    };
    auto run = [&](const QuantizedTensor& qw, std::size_t cache, bool expect_packed) {
      set_int8_weight_cache_bytes(cache);
      const Int8Weight& w = int8_weight_view(qw);
      EXPECT_EQ(!w.forward_b.empty(), expect_packed);
      Results res{std::vector<float>(m * out), std::vector<float>(m * r), std::vector<float>(m * in),
                  std::vector<float>(m * r), std::vector<float>(m * out), std::vector<float>(m * in)};
      int8_lora_forward(x.data(), m, w, a.data(), b.data(), r, 2.0f, res.y.data(), res.xa.data());
      int8_lora_backward(d.data(), m, w, a.data(), b.data(), r, 0.5f, res.dx.data(), res.db.data());
      int8_linear_forward(x.data(), m, w, res.base_y.data());
      int8_linear_backward(d.data(), m, w, res.base_dx.data());
      return res;
    };
    const Results plain = run(qw_plain, 0, false);
    const bool packs = !pack_s8_matrix(std::vector<int8_t>(4, 1).data(), 2, 2, false).empty();
    const Results packed = run(qw_packed, int8_weight_bytes(out, in) + 1, packs);
    set_int8_weight_cache_bytes(0);
    EXPECT_EQ(packed.y, plain.y);
    EXPECT_EQ(packed.xa, plain.xa);
    EXPECT_EQ(packed.dx, plain.dx);
    EXPECT_EQ(packed.db, plain.db);
    EXPECT_EQ(packed.base_y, plain.base_y);
    EXPECT_EQ(packed.base_dx, plain.base_dx);
  }
  set_int8_lora_kernels(Int8LoraKernels::avx512);
}

TEST(Int8LoraProjectRows, MatchesFloat64WithTailsAndWideRanks) {
  std::mt19937 rng(9);
  for (auto kernels : {Int8LoraKernels::portable, Int8LoraKernels::avx2, Int8LoraKernels::avx512})
  for (const auto& [m, k, r] : {std::tuple<int64_t, int64_t, int64_t>{3, 13, 11}, {9, 8, 8}, {4, 1, 2}, {2, 40, 17}}) {
    const auto x = normal(m * k, rng), c = normal(r * k, rng);
    std::vector<float> p(m * r);
    set_int8_lora_kernels(kernels);
    SCOPED_TRACE(int8_lora_kernels());
    project_rows(x.data(), m, k, c.data(), r, p.data());
    set_int8_lora_kernels(Int8LoraKernels::avx512);
    for (int64_t i = 0; i < m; ++i)
      for (int64_t t = 0; t < r; ++t) {
        double want = 0, mag = 0;
        for (int64_t j = 0; j < k; ++j) {
          want += double{x[i * k + j]} * c[t * k + j];
          mag += std::fabs(double{x[i * k + j]} * c[t * k + j]);
        }
        expect_close(p[i * r + t], want, mag, "p");
      }
  }
  EXPECT_THROW(project_rows(nullptr, -1, 4, nullptr, 2, nullptr), std::invalid_argument);
}

TEST(Int8LoraErrors, NonFiniteRowsAreNamedAndNegativeRanksRefused) {
  std::mt19937 rng(3);
  const int64_t m = 50, in = 32, out = 8, r = 2;
  auto x = normal(m * in, rng);
  const auto a = normal(r * in, rng), b = normal(out * r, rng), wf = normal(out * in, rng);
  const auto qw = QuantizedTensor::quantize(wf.data(), out, in, GgmlType::Q8_0);
  const Int8Weight& w = int8_weight_view(qw);
  std::vector<float> y(m * out), xa(m * r), dx(m * in), db(m * r);
  x[40 * in + 3] = std::numeric_limits<float>::quiet_NaN();
  try {
    int8_lora_forward(x.data(), m, w, a.data(), b.data(), r, 1.0f, y.data(), xa.data());
    ADD_FAILURE() << "a NaN input was accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("[32, 50)"), std::string::npos) << e.what();
  }
  auto d = normal(m * out, rng);
  d[7] = std::numeric_limits<float>::infinity();
  EXPECT_THROW(int8_lora_backward(d.data(), m, w, a.data(), b.data(), r, 1.0f, dx.data(), db.data()),
               std::invalid_argument);
  EXPECT_THROW(int8_lora_forward(x.data(), m, w, a.data(), b.data(), -1, 1.0f, y.data(), xa.data()),
               std::invalid_argument);
}

}  // namespace
}  // namespace fedlora::lora
