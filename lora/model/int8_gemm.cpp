#include "lora/model/int8_gemm.h"

#include <dnnl.hpp>
#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include <limits>

#include <algorithm>
#include <cmath>
#include <map>
#include <optional>
#include <stdexcept>
#include <tuple>

#include <ATen/record_function.h>

namespace fedlora::lora {
namespace {

// One oneDNN engine, stream and matmul primitive per (m, k, n, weight layout) and thread:
// creating a primitive costs far more than running a small one.
struct Dnnl {
  dnnl::engine engine{dnnl::engine::kind::cpu, 0};
  dnnl::stream stream{engine};
  std::map<std::tuple<int64_t, int64_t, int64_t, bool>, dnnl::matmul> cache;

  // C[m, n] (s32) = A[m, k] (s8) · B (s8), B given as [k, n] (b_is_nk = false) or stored
  // as [n, k] row-major (b_is_nk = true).
  void gemm(const int8_t* a, const int8_t* b, int32_t* c, int64_t m, int64_t k, int64_t n, bool b_is_nk) {
    using dt = dnnl::memory::data_type;
    using tag = dnnl::memory::format_tag;
    const dnnl::memory::desc ad({m, k}, dt::s8, tag::ab), bd({k, n}, dt::s8, b_is_nk ? tag::ba : tag::ab),
        cd({m, n}, dt::s32, tag::ab);
    auto key = std::make_tuple(m, k, n, b_is_nk);
    auto it = cache.find(key);
    if (it == cache.end()) {
      auto pd = dnnl::matmul::primitive_desc(dnnl::matmul::desc(ad, bd, cd), engine);
      it = cache.emplace(key, dnnl::matmul(pd)).first;
    }
    dnnl::memory am(ad, engine, const_cast<int8_t*>(a)), bm(bd, engine, const_cast<int8_t*>(b)), cm(cd, engine, c);
    it->second.execute(stream, {{DNNL_ARG_SRC, am}, {DNNL_ARG_WEIGHTS, bm}, {DNNL_ARG_DST, cm}});
    stream.wait();
  }
};

Dnnl& dnnl_state() {
  thread_local Dnnl d;
  return d;
}

// Per-thread buffers reused across calls (no allocation in the step's loop once warm).
struct Buffers {
  std::vector<int8_t> q;
  std::vector<float> s;
  std::vector<int32_t> acc;
  std::vector<float> deq;
};
Buffers& buffers() {
  thread_local Buffers b;
  return b;
}

template <typename T>
T* sized(std::vector<T>& v, int64_t n) {
  if (v.size() < static_cast<size_t>(n)) v.resize(static_cast<size_t>(n));
  return v.data();
}

// Round half to even for |v| < 2^22 without calling nearbyint: adding and subtracting
// 1.5·2^23 leaves the float rounded by the FPU's default mode (IEEE 754 round-to-nearest-
// even). Loops over it vectorise; -ffast-math would break it (not used here).
inline float round_half_even(float v) {
  constexpr float kMagic = 12582912.0f;
  return (v + kMagic) - kMagic;
}

// Scalar pieces shared by both row kernels (the AVX2 one runs them on its tail).
// Max |x·c| over [from, to) into amax; probe becomes NaN if any value is NaN or ±Inf.
inline void scan_range(const float* x, const float* c, int64_t from, int64_t to, float& amax, float& probe) {
  for (int64_t j = from; j < to; ++j) {
    const float v = c ? x[j] * c[j] : x[j];
    probe += v * 0.0f;
    amax = std::max(amax, std::fabs(v));
  }
}

inline void quantize_range(const float* x, const float* c, int64_t from, int64_t to, float inv, int8_t* q) {
  for (int64_t j = from; j < to; ++j) {
    const float v = (c ? x[j] * c[j] : x[j]) * inv;
    q[j] = static_cast<int8_t>(std::clamp(round_half_even(v), -127.0f, 127.0f));
  }
}

// The row's scale from its scan (NaN for a non-finite row); a zero row is written here.
inline float row_scale(float amax, float probe, int64_t cols, int8_t* q) {
  if (probe != 0.0f) return std::numeric_limits<float>::quiet_NaN();
  const float s = amax / 127.0f;
  if (s == 0.0f) std::fill(q, q + cols, int8_t{0});
  return s;
}

// One row: returns its scale, or NaN if a value is not finite.
float quantize_row_scalar(const float* x, int64_t cols, const float* c, int8_t* q) {
  float amax = 0.0f, probe = 0.0f;
  scan_range(x, c, 0, cols, amax, probe);
  const float s = row_scale(amax, probe, cols, q);
  if (s > 0.0f) quantize_range(x, c, 0, cols, 1.0f / s, q);
  return s;
}

#if defined(__x86_64__)
__attribute__((target("avx2,fma"))) float quantize_row_avx2(const float* x, int64_t cols, const float* c, int8_t* q) {
  const __m256 sign = _mm256_set1_ps(-0.0f), zero = _mm256_setzero_ps();
  __m256 vmax = zero, probe = zero;
  int64_t j = 0;
  for (; j + 8 <= cols; j += 8) {
    __m256 v = _mm256_loadu_ps(x + j);
    if (c) v = _mm256_mul_ps(v, _mm256_loadu_ps(c + j));
    probe = _mm256_add_ps(probe, _mm256_mul_ps(v, zero));
    vmax = _mm256_max_ps(vmax, _mm256_andnot_ps(sign, v));
  }
  alignas(32) float m8[8], p8[8];
  _mm256_store_ps(m8, vmax);
  _mm256_store_ps(p8, probe);
  float amax = 0.0f, p = 0.0f;
  for (int i = 0; i < 8; ++i) {
    amax = std::max(amax, m8[i]);
    p += p8[i];
  }
  scan_range(x, c, j, cols, amax, p);
  const float s = row_scale(amax, p, cols, q);
  if (!(s > 0.0f)) return s;
  const float inv = 1.0f / s;
  const __m256 vinv = _mm256_set1_ps(inv), lo = _mm256_set1_ps(-127.0f), hi = _mm256_set1_ps(127.0f);
  for (j = 0; j + 8 <= cols; j += 8) {
    __m256 v = _mm256_loadu_ps(x + j);
    if (c) v = _mm256_mul_ps(v, _mm256_loadu_ps(c + j));
    v = _mm256_mul_ps(v, vinv);
    v = _mm256_round_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);  // half to even
    v = _mm256_min_ps(_mm256_max_ps(v, lo), hi);
    const __m256i i32 = _mm256_cvtps_epi32(v);
    const __m128i i16 = _mm_packs_epi32(_mm256_castsi256_si128(i32), _mm256_extracti128_si256(i32, 1));
    const __m128i i8 = _mm_packs_epi16(i16, i16);
    _mm_storel_epi64(reinterpret_cast<__m128i*>(q + j), i8);
  }
  quantize_range(x, c, j, cols, inv, q);
  return s;
}

bool have_avx2() {
  static const bool yes = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return yes;
}
#else
bool have_avx2() { return false; }
float quantize_row_avx2(const float* x, int64_t cols, const float* c, int8_t* q) {
  return quantize_row_scalar(x, cols, c, q);
}
#endif

}  // namespace

void quantize_rows_s8(const float* x, int64_t rows, int64_t cols, const float* col_mul, int8_t* q, float* scales) {
  const bool fast = have_avx2();
  for (int64_t i = 0; i < rows; ++i) {
    const float s = fast ? quantize_row_avx2(x + i * cols, cols, col_mul, q + i * cols)
                         : quantize_row_scalar(x + i * cols, cols, col_mul, q + i * cols);
    if (std::isnan(s)) throw std::invalid_argument("quantize_rows_s8: row " + std::to_string(i) + " has a NaN or Inf");
    scales[i] = s;
  }
}

const Int8Weight& int8_weight_view(const QuantizedTensor& w) {
  struct Cached {
    Int8Weight w;
    std::optional<QuantizedTensor> held;  // keeps the bytes alive while they identify the cache
  };
  thread_local Cached c;
  const bool same = c.held && c.held->bytes().data() == w.bytes().data() && c.held->bytes().size() == w.bytes().size() &&
                    c.held->type() == w.type() && c.held->rows() == w.rows() && c.held->cols() == w.cols();
  if (same) return c.w;
  RECORD_USER_SCOPE("fedlora::int8_weight");
  c.held.reset();
  const int64_t rows = w.rows(), cols = w.cols();
  c.w.rows = rows;
  c.w.cols = cols;
  c.w.q.resize(static_cast<size_t>(rows * cols));
  c.w.scale.resize(static_cast<size_t>(rows));
  // A few rows at a time through float32: no fp32 copy of the whole weight (46 MB for a
  // 1B-class FFN matrix) is ever held.
  constexpr int64_t kChunkRows = 16;
  float* f = sized(buffers().deq, kChunkRows * cols);
  for (int64_t r0 = 0; r0 < rows; r0 += kChunkRows) {
    const int64_t r1 = std::min(rows, r0 + kChunkRows);
    w.dequantize_rows(r0, r1, f);
    quantize_rows_s8(f, r1 - r0, cols, nullptr, c.w.q.data() + r0 * cols, c.w.scale.data() + r0);
  }
  c.held.emplace(w);
  return c.w;
}

void int8_linear_forward(const float* x, int64_t m, const Int8Weight& w, float* y) {
  RECORD_USER_SCOPE("fedlora::int8_linear_forward");
  const int64_t in = w.cols, out = w.rows;
  Buffers& b = buffers();
  int8_t* qx = sized(b.q, m * in);
  float* sx = sized(b.s, m);
  quantize_rows_s8(x, m, in, nullptr, qx, sx);
  int32_t* acc = sized(b.acc, m * out);
  dnnl_state().gemm(qx, w.q.data(), acc, m, in, out, /*b_is_nk=*/true);
  const float* sw = w.scale.data();
  for (int64_t i = 0; i < m; ++i) {
    const float si = sx[i];
    const int32_t* ai = acc + i * out;
    float* yi = y + i * out;
    for (int64_t j = 0; j < out; ++j) yi[j] = static_cast<float>(ai[j]) * si * sw[j];
  }
}

void int8_linear_backward(const float* delta, int64_t m, const Int8Weight& w, float* dx) {
  RECORD_USER_SCOPE("fedlora::int8_linear_backward");
  const int64_t in = w.cols, out = w.rows;
  Buffers& b = buffers();
  int8_t* qd = sized(b.q, m * out);
  float* sd = sized(b.s, m);
  quantize_rows_s8(delta, m, out, w.scale.data(), qd, sd);
  int32_t* acc = sized(b.acc, m * in);
  dnnl_state().gemm(qd, w.q.data(), acc, m, out, in, /*b_is_nk=*/false);
  for (int64_t i = 0; i < m; ++i) {
    const float si = sd[i];
    const int32_t* ai = acc + i * in;
    float* di = dx + i * in;
    for (int64_t j = 0; j < in; ++j) di[j] = static_cast<float>(ai[j]) * si;
  }
}

}  // namespace fedlora::lora
