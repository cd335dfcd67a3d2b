#include "lora/model/bf16_gemm.h"

#include <dnnl.hpp>

#include <cstring>
#include <array>
#include <map>
#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "lora/model/blas.h"

namespace fedlora::lora {
namespace {

bool g_enabled = true;

bool cpu_has_bf16() {
#if defined(__x86_64__)
  static const bool yes = __builtin_cpu_supports("avx512bf16") && __builtin_cpu_supports("avx512bw") &&
                          __builtin_cpu_supports("avx512vl");
  return yes;
#else
  return false;
#endif
}

uint32_t bits_of(float x) {
  uint32_t u;
  std::memcpy(&u, &x, sizeof u);
  return u;
}

// The conversion vcvtneps2bf16 performs: denormal inputs count as zero, NaN is made quiet,
// everything else rounds to nearest even.
uint16_t to_bf16_bits(float x) {
  uint32_t u = bits_of(x);
  if ((u & 0x7F800000u) == 0) return static_cast<uint16_t>((u >> 16) & 0x8000u);
  if ((u & 0x7FFFFFFFu) > 0x7F800000u) return static_cast<uint16_t>((u >> 16) | 0x40u);
  u += 0x7FFFu + ((u >> 16) & 1u);
  return static_cast<uint16_t>(u >> 16);
}

void convert_rows_scalar(const float* src, int64_t rows, int64_t cols, int64_t ld, uint16_t* dst) {
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < cols; ++j) dst[i * cols + j] = to_bf16_bits(src[i * ld + j]);
}

#if defined(__x86_64__)
__attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16"))) void convert_rows_avx512(const float* src, int64_t rows, int64_t cols,
                                                                       int64_t ld, uint16_t* dst) {
  for (int64_t i = 0; i < rows; ++i) {
    const float* s = src + i * ld;
    uint16_t* d = dst + i * cols;
    for (int64_t j = 0; j < cols; j += 16) {
      const int64_t left = cols - j;
      const __mmask16 mk = left >= 16 ? __mmask16{0xFFFF} : static_cast<__mmask16>((1u << left) - 1u);
      const __m256bh h = _mm512_cvtneps_pbh(_mm512_maskz_loadu_ps(mk, s + j));
      _mm256_mask_storeu_epi16(d + j, mk, reinterpret_cast<const __m256i&>(h));
    }
  }
}
#endif

// Stored [rows, cols] floats with row stride ld → compact bf16 rows.
void convert_rows(const float* src, int64_t rows, int64_t cols, int64_t ld, uint16_t* dst) {
#if defined(__x86_64__)
  if (cpu_has_bf16()) return convert_rows_avx512(src, rows, cols, ld, dst);
#endif
  convert_rows_scalar(src, rows, cols, ld, dst);
}

using Key = std::tuple<bool, bool, int64_t, int64_t, int64_t, int64_t, uint32_t, uint32_t>;

struct Dnnl {
  dnnl::engine engine{dnnl::engine::kind::cpu, 0};
  dnnl::stream stream{engine};
  std::map<Key, std::pair<dnnl::matmul, std::array<dnnl::memory::desc, 3>>> cache;
  std::vector<uint16_t> a16, b16;
};

Dnnl& dnnl_state() {
  thread_local Dnnl d;
  return d;
}

void check(bool ok, const std::string& what) {
  if (!ok) throw std::invalid_argument("gemm_bf16_rowmajor: " + what);
}

}  // namespace

float round_to_bf16(float x) {
  const uint32_t u = static_cast<uint32_t>(to_bf16_bits(x)) << 16;
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

bool bf16_products_available() { return g_enabled && cpu_has_bf16(); }
void set_bf16_products(bool enabled) { g_enabled = enabled; }

void gemm_bf16_rowmajor(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
                        int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  check(m >= 0 && n >= 0 && k >= 0, "negative size");
  const int64_t a_rows = trans_a ? k : m, a_cols = trans_a ? m : k;
  const int64_t b_rows = trans_b ? n : k, b_cols = trans_b ? k : n;
  check(lda >= a_cols && ldb >= b_cols && ldc >= n, "a row stride is shorter than its row");
  if (!bf16_products_available())
    throw std::runtime_error("gemm_bf16_rowmajor: this CPU has no AVX512_BF16 (or bf16 products are off)");
  if (m == 0 || n == 0) return;
  if (k == 0) return sgemm_rowmajor(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);

  Dnnl& d = dnnl_state();
  using dt = dnnl::memory::data_type;
  using tag = dnnl::memory::format_tag;
  const Key key{trans_a, trans_b, m, n, k, ldc, bits_of(alpha), beta == 0.0f ? 0u : bits_of(beta)};
  auto it = d.cache.find(key);
  try {
    if (it == d.cache.end()) {
      const dnnl::memory::desc ad({m, k}, dt::bf16, trans_a ? tag::ba : tag::ab),
          bd({k, n}, dt::bf16, trans_b ? tag::ba : tag::ab), cd({m, n}, dt::f32, dnnl::memory::dims{ldc, 1});
      dnnl::primitive_attr attr;
      if (alpha != 1.0f) attr.set_output_scales(0, {alpha});
      if (beta != 0.0f) {
        dnnl::post_ops po;
        po.append_sum(beta);
        attr.set_post_ops(po);
      }
      auto pd = dnnl::matmul::primitive_desc(dnnl::matmul::desc(ad, bd, cd), attr, d.engine);
      it = d.cache.emplace(key, std::make_pair(dnnl::matmul(pd), std::array<dnnl::memory::desc, 3>{ad, bd, cd})).first;
    }
    if (d.a16.size() < static_cast<size_t>(m * k)) d.a16.resize(static_cast<size_t>(m * k));
    if (d.b16.size() < static_cast<size_t>(k * n)) d.b16.resize(static_cast<size_t>(k * n));
    convert_rows(a, a_rows, a_cols, lda, d.a16.data());
    convert_rows(b, b_rows, b_cols, ldb, d.b16.data());
    const auto& [ad, bd, cd] = it->second.second;
    dnnl::memory am(ad, d.engine, d.a16.data()), bm(bd, d.engine, d.b16.data()), cm(cd, d.engine, c);
    it->second.first.execute(d.stream, {{DNNL_ARG_SRC, am}, {DNNL_ARG_WEIGHTS, bm}, {DNNL_ARG_DST, cm}});
    d.stream.wait();
  } catch (const dnnl::error& e) {
    throw std::runtime_error(std::string("gemm_bf16_rowmajor: oneDNN failed: ") + e.what());
  }
}

void float_gemm_rowmajor(FloatProducts p, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                         const float* a, int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  if (p == FloatProducts::bf16 && bf16_products_available())
    return gemm_bf16_rowmajor(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  sgemm_rowmajor(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

}  // namespace fedlora::lora
