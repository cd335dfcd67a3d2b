// Int8 base products (SwitchBack-style) against hand-computed quantization, exact integer
// cases and a float64 reference on random data. Torch-free: also runs on aarch64 (qemu).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "lora/int8/int8_linear.h"
#include "lora/int8/s8_gemm.h"
#include "lora/int8/row_quantize.h"

namespace fedlora::lora {
namespace {

TEST(Int8Linear, RowQuantizationRoundsHalfToEvenAgainstTheRowMaximum) {
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
  std::vector<int8_t> qz(20, 5);
  quantize_rows_s8(z.data(), 1, 16, nullptr, qz.data(), &s);
  EXPECT_EQ(s, 0.0f);
  for (int j = 0; j < 16; ++j) EXPECT_EQ(qz[j], 0);
  for (float bad : {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity()}) {
    std::vector<float> y(20, 1.0f);
    y[17] = bad;  // in the vector tail as well as the body below
    EXPECT_THROW(quantize_rows_s8(y.data(), 1, 20, nullptr, qz.data(), &s), std::invalid_argument);
    y[17] = 1.0f;
    y[3] = bad;
    EXPECT_THROW(quantize_rows_s8(y.data(), 1, 20, nullptr, qz.data(), &s), std::invalid_argument);
  }
}

// Each kernel refuses a NaN or Inf wherever it sits: in the two-vector body, the
// one-vector step and the scalar tail (56 = 32 + 16 + 8 for AVX-512, 7 × 8 for AVX2).
TEST(Int8Linear, EveryRowKernelRefusesNonFiniteValues) {
  for (int widest : {2, 1, 0}) {
    set_row_quantize_kernels(widest);
    for (float bad : {std::numeric_limits<float>::quiet_NaN(), -std::numeric_limits<float>::infinity()})
      for (int at : {3, 20, 40, 53}) {
        std::vector<float> y(56, 1.0f);
        std::vector<int8_t> q(56);
        float s = 0;
        y[static_cast<size_t>(at)] = bad;
        EXPECT_THROW(quantize_rows_s8(y.data(), 1, 56, nullptr, q.data(), &s), std::invalid_argument)
            << "widest " << widest << ", value at " << at;
      }
  }
  set_row_quantize_kernels(2);
}

// Every dispatched kernel (AVX-512, AVX2 or NEON) is bit-identical to the scalar one: odd
// lengths, ties, column multipliers, rows of very different scale and denormals.
TEST(Int8Linear, RowKernelsAreBitIdenticalToScalar) {
  for (int widest : {2, 1, 0}) {
    SCOPED_TRACE("widest kernel " + std::to_string(widest));
    set_row_quantize_kernels(widest);
    std::mt19937 rng(11);
    std::normal_distribution<float> nd;
    for (int64_t cols : {1, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33, 48, 64, 77, 300}) {
      const int64_t rows = 6;
      std::vector<float> x(static_cast<size_t>(rows * cols)), c(static_cast<size_t>(cols));
      for (auto& v : x) v = nd(rng);
      for (auto& v : c) v = std::fabs(nd(rng)) + 0.1f;
      for (int64_t j = 0; j < cols; ++j) {
        x[static_cast<size_t>(1 * cols + j)] = static_cast<float>(j % 5) - 2.0f;  // exact halves after scaling
        x[static_cast<size_t>(2 * cols + j)] *= 1e6f;
        x[static_cast<size_t>(3 * cols + j)] = 1e-40f * static_cast<float>(j + 1);  // denormals
      }
      x[static_cast<size_t>(1 * cols)] = 254.0f;
      for (const float* cm : {static_cast<const float*>(nullptr), static_cast<const float*>(c.data())}) {
        std::vector<int8_t> q(x.size()), qr(x.size());
        std::vector<float> s(rows), sr(rows);
        quantize_rows_s8(x.data(), rows, cols, cm, q.data(), s.data());
        quantize_rows_s8_ref(x.data(), rows, cols, cm, qr.data(), sr.data());
        EXPECT_EQ(q, qr) << "cols " << cols;
        for (int64_t i = 0; i < rows; ++i) EXPECT_EQ(std::memcmp(&s[i], &sr[i], sizeof(float)), 0) << "row " << i;
      }
    }
  }
  set_row_quantize_kernels(2);
}

std::vector<float> random_ints(std::mt19937& rng, size_t n) {
  std::uniform_int_distribution<int> d(-127, 127);
  std::vector<float> v(n);
  for (auto& x : v) x = static_cast<float>(d(rng));
  return v;
}

// Integer operands whose rows reach ±127 quantize exactly (scale 1), so both products are
// exact: compared with a float64 triple loop for equality.
TEST(Int8Linear, IntegerOperandsGiveExactProducts) {
  const int64_t m = 5, in = 70, out = 37;  // odd sizes: the vector loops' tails
  std::mt19937 rng(3);
  auto x = random_ints(rng, m * in), w = random_ints(rng, out * in), d = random_ints(rng, m * out);
  for (int64_t i = 0; i < m; ++i) x[i * in] = 127;  // every row's max |.| is 127
  for (int64_t o = 0; o < out; ++o) w[o * in + 1] = -127;
  for (int64_t i = 0; i < m; ++i) d[i * out + 2] = 127;
  const auto qw = QuantizedTensor::quantize(w.data(), out, in, GgmlType::F32);
  const Int8Weight& iw = int8_weight_view(qw);
  for (float s : iw.scale) ASSERT_FLOAT_EQ(s, 1.0f);
  std::vector<float> y(m * out), dx(m * in);
  int8_linear_forward(x.data(), m, iw, y.data());
  int8_linear_backward(d.data(), m, iw, dx.data());
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t o = 0; o < out; ++o) {
      double ref = 0;
      for (int64_t j = 0; j < in; ++j) ref += double{x[i * in + j]} * w[o * in + j];
      EXPECT_EQ(double{y[i * out + o]}, ref) << i << "," << o;
    }
    for (int64_t j = 0; j < in; ++j) {
      double ref = 0;
      for (int64_t o = 0; o < out; ++o) ref += double{d[i * out + o]} * w[o * in + j];
      EXPECT_EQ(double{dx[i * in + j]}, ref) << i << "," << j;
    }
  }
}

// Random data through a Q4_0 weight: the int8 products stay within the quantization error
// of the float64 products of the dequantized weight (relative Frobenius error < 2%).
TEST(Int8Linear, RandomProductsAreCloseToFloat64) {
  const int64_t m = 33, in = 96, out = 64;
  std::mt19937 rng(4);
  std::normal_distribution<float> nd;
  std::vector<float> x(m * in), d(m * out), w(out * in);
  for (auto& v : x) v = nd(rng);
  for (auto& v : d) v = nd(rng);
  for (auto& v : w) v = 0.02f * nd(rng);
  for (int64_t j = 0; j < in; ++j) w[3 * in + j] *= 50.0f;  // rows of very different scale
  const auto qw = QuantizedTensor::quantize(w.data(), out, in, GgmlType::Q4_0);
  std::vector<float> wd(out * in);
  qw.dequantize_rows(0, out, wd.data());
  const Int8Weight& iw = int8_weight_view(qw);
  std::vector<float> y(m * out), dx(m * in);
  int8_linear_forward(x.data(), m, iw, y.data());
  int8_linear_backward(d.data(), m, iw, dx.data());
  double ey = 0, ny = 0, ed = 0, nd2 = 0;
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t o = 0; o < out; ++o) {
      double ref = 0;
      for (int64_t j = 0; j < in; ++j) ref += double{x[i * in + j]} * wd[o * in + j];
      ey += (y[i * out + o] - ref) * (y[i * out + o] - ref);
      ny += ref * ref;
    }
    for (int64_t j = 0; j < in; ++j) {
      double ref = 0;
      for (int64_t o = 0; o < out; ++o) ref += double{d[i * out + o]} * wd[o * in + j];
      ed += (dx[i * in + j] - ref) * (dx[i * in + j] - ref);
      nd2 += ref * ref;
    }
  }
  EXPECT_LT(std::sqrt(ey / ny), 0.02);
  EXPECT_LT(std::sqrt(ed / nd2), 0.02);
  // Not trivially close: the error is that of 8-bit operands, well above float rounding.
  EXPECT_GT(std::sqrt(ey / ny), 1e-5);
}

// The thread's int8 weight cache: with room for both weights, a weight asked for again is
// the same cached copy (not re-quantized); with no room, each miss re-quantizes into one
// reused buffer. Either way the products it gives are those of the row quantization of the
// dequantized rows, by the triple loop, exactly: cached weights are held packed where the
// backend packs (oneDNN), plain otherwise.
TEST(Int8Linear, WeightCacheKeepsWhatFitsAndRequantizesTheRest) {
  std::mt19937 rng(6);
  std::normal_distribution<float> nd;
  std::uniform_int_distribution<int> di(-127, 127);
  std::vector<float> w1(40 * 64), w2(24 * 64);
  for (auto& v : w1) v = nd(rng);
  for (auto& v : w2) v = nd(rng);
  const auto q1 = QuantizedTensor::quantize(w1.data(), 40, 64, GgmlType::Q4_0);
  const auto q2 = QuantizedTensor::quantize(w2.data(), 24, 64, GgmlType::Q8_0);
  const int64_t m = 7;
  auto expect_quantization_of = [&](const QuantizedTensor& t, const Int8Weight& got) {
    const int64_t rows = t.rows(), cols = t.cols();
    std::vector<float> f(static_cast<size_t>(rows * cols));
    t.dequantize_rows(0, rows, f.data());
    std::vector<int8_t> q(f.size());
    std::vector<float> s(static_cast<size_t>(rows));
    quantize_rows_s8_ref(f.data(), rows, cols, nullptr, q.data(), s.data());
    EXPECT_EQ(got.scale, s);
    ASSERT_EQ(got.rows, rows);
    ASSERT_EQ(got.cols, cols);
    std::vector<int8_t> x(static_cast<size_t>(m * cols)), d(static_cast<size_t>(m * rows));
    for (auto& v : x) v = static_cast<int8_t>(di(rng));
    for (auto& v : d) v = static_cast<int8_t>(di(rng));
    std::vector<int32_t> y(static_cast<size_t>(m * rows)), y_ref(y.size()), dx(static_cast<size_t>(m * cols)),
        dx_ref(dx.size());
    int8_forward_product(x.data(), m, got, y.data());
    gemm_s8s8s32_ref(x.data(), q.data(), y_ref.data(), m, cols, rows, /*b_is_nk=*/true);
    EXPECT_EQ(y, y_ref);
    int8_backward_product(d.data(), m, got, dx.data());
    gemm_s8s8s32_ref(d.data(), q.data(), dx_ref.data(), m, rows, cols, /*b_is_nk=*/false);
    EXPECT_EQ(dx, dx_ref);
  };
  const bool packs = std::string(s8_gemm_backend()) == "onednn";
  set_int8_weight_cache_bytes(int8_weight_bytes(40, 64) + int8_weight_bytes(24, 64));
  const Int8Weight* first = &int8_weight_view(q1);
  EXPECT_EQ(first->forward_b.empty(), !packs);
  EXPECT_EQ(first->q.empty(), packs);  // a packed weight keeps no plain copy
  expect_quantization_of(q2, int8_weight_view(q2));
  const Int8Weight& again = int8_weight_view(q1);
  EXPECT_EQ(&again, first);
  expect_quantization_of(q1, again);

  set_int8_weight_cache_bytes(0);  // keeps only the most recent (q1), and nothing packed
  const Int8Weight& w2_view = int8_weight_view(q2);
  EXPECT_TRUE(w2_view.forward_b.empty());
  EXPECT_TRUE(w2_view.backward_b.empty());
  EXPECT_EQ(w2_view.q.size(), 24u * 64u);
  expect_quantization_of(q2, w2_view);
  const Int8Weight& w1_view = int8_weight_view(q1);
  expect_quantization_of(q1, w1_view);
  const int8_t* plain_data = w1_view.q.data();
  const Int8Weight& w2_again = int8_weight_view(q2);
  expect_quantization_of(q2, w2_again);
  EXPECT_EQ(w2_again.q.data(), plain_data);  // q1's buffer, reused: the smaller weight fits
}

// The bytes a cached weight holds, as int8_weight_bytes promises: both packed matrices and
// the scales where the backend packs, else the plain int8 and the scales.
TEST(Int8Linear, WeightBytesAreWhatTheCacheHolds) {
  EXPECT_EQ(int8_plain_weight_bytes(40, 64), 40u * 64u + 40u * 4u);
  std::vector<int8_t> q(40 * 64, 1);
  const auto fwd = pack_s8_matrix(q.data(), 64, 40, true), bwd = pack_s8_matrix(q.data(), 40, 64, false);
  if (fwd.empty()) {
    EXPECT_EQ(int8_weight_bytes(40, 64), int8_plain_weight_bytes(40, 64));
  } else {
    EXPECT_GE(fwd.bytes(), 40u * 64u);
    EXPECT_EQ(int8_weight_bytes(40, 64), fwd.bytes() + bwd.bytes() + 40u * 4u);
  }
  EXPECT_THROW(int8_weight_bytes(-1, 4), std::invalid_argument);
}

}  // namespace
}  // namespace fedlora::lora
