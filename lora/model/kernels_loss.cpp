// Cross-entropy row kernels (fused_kernels.h).
#include "lora/model/fused_kernels.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "lora/model/kernels_simd.h"

namespace fedlora::lora::kernels {
namespace {

using namespace detail;

// Row statistics of cross-entropy: max, first argmax, log Σ exp(z − max).
void ce_row_scalar(const float* z, int64_t v, float* mx_out, int64_t* arg_out, float* lse_out) {
  float mx = z[0];
  int64_t arg = 0;
  for (int64_t j = 1; j < v; ++j)
    if (z[j] > mx) mx = z[j], arg = j;
  float sum = 0;
  for (int64_t j = 0; j < v; ++j) sum += std::exp(z[j] - mx);
  *mx_out = mx;
  *arg_out = arg;
  *lse_out = mx + std::log(sum);
}

void ce_bwd_row_scalar(const float* z, int64_t v, float lse, float coef, float* dz) {
  for (int64_t j = 0; j < v; ++j) dz[j] = coef * std::exp(z[j] - lse);
}

// Max of z[0, n) with four independent chains (max has a 4-cycle latency).
FEDLORA_AVX2 inline float row_max(const float* z, int64_t n) {
  float mx = -std::numeric_limits<float>::infinity();
  int64_t j = 0;
  if (n >= 32) {
    __m256 m0 = _mm256_loadu_ps(z), m1 = _mm256_loadu_ps(z + 8), m2 = _mm256_loadu_ps(z + 16),
           m3 = _mm256_loadu_ps(z + 24);
    for (j = 32; j + 32 <= n; j += 32) {
      m0 = _mm256_max_ps(m0, _mm256_loadu_ps(z + j));
      m1 = _mm256_max_ps(m1, _mm256_loadu_ps(z + j + 8));
      m2 = _mm256_max_ps(m2, _mm256_loadu_ps(z + j + 16));
      m3 = _mm256_max_ps(m3, _mm256_loadu_ps(z + j + 24));
    }
    mx = hmax(_mm256_max_ps(_mm256_max_ps(m0, m1), _mm256_max_ps(m2, m3)));
  }
  for (; j + 8 <= n; j += 8) mx = std::max(mx, hmax(_mm256_loadu_ps(z + j)));
  for (; j < n; ++j) mx = std::max(mx, z[j]);
  return mx;
}

// First index of the value mx in z[0, n) (n if absent, e.g. a NaN row), 8 at a time.
FEDLORA_AVX2 inline int64_t first_index_of(const float* z, int64_t n, float mx) {
  const __m256 vm = _mm256_set1_ps(mx);
  int64_t j = 0;
  for (; j + 8 <= n; j += 8) {
    const int bits = _mm256_movemask_ps(_mm256_cmp_ps(_mm256_loadu_ps(z + j), vm, _CMP_EQ_OQ));
    if (bits != 0) return j + __builtin_ctz(static_cast<unsigned>(bits));
  }
  for (; j < n; ++j)
    if (z[j] == mx) return j;
  return n;
}

FEDLORA_AVX2 void ce_row_avx2(const float* z, int64_t v, float* mx_out, int64_t* arg_out, float* lse_out) {
  const float mx = row_max(z, v);
  int64_t arg = first_index_of(z, v, mx);
  if (arg == v) arg = 0;
  const __m256 vmx = _mm256_set1_ps(mx);
  __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps(), a2 = _mm256_setzero_ps(), a3 = _mm256_setzero_ps();
  int64_t j = 0;
  for (; j + 32 <= v; j += 32) {
    a0 = _mm256_add_ps(a0, exp8(_mm256_sub_ps(_mm256_loadu_ps(z + j), vmx)));
    a1 = _mm256_add_ps(a1, exp8(_mm256_sub_ps(_mm256_loadu_ps(z + j + 8), vmx)));
    a2 = _mm256_add_ps(a2, exp8(_mm256_sub_ps(_mm256_loadu_ps(z + j + 16), vmx)));
    a3 = _mm256_add_ps(a3, exp8(_mm256_sub_ps(_mm256_loadu_ps(z + j + 24), vmx)));
  }
  for (; j + 8 <= v; j += 8) a0 = _mm256_add_ps(a0, exp8(_mm256_sub_ps(_mm256_loadu_ps(z + j), vmx)));
  float sum = hsum(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
  for (; j < v; ++j) sum += exp1(z[j] - mx);
  *mx_out = mx;
  *arg_out = arg;
  *lse_out = mx + std::log(sum);
}

FEDLORA_AVX2 void ce_bwd_row_avx2(const float* z, int64_t v, float lse, float coef, float* dz) {
  const __m256 vl = _mm256_set1_ps(lse), vc = _mm256_set1_ps(coef);
  int64_t j = 0;
  for (; j + 8 <= v; j += 8) _mm256_storeu_ps(dz + j, _mm256_mul_ps(vc, exp8(_mm256_sub_ps(_mm256_loadu_ps(z + j), vl))));
  for (; j < v; ++j) dz[j] = coef * exp1(z[j] - lse);
}

}  // namespace

int64_t cross_entropy_forward(const float* z, int64_t rows, int64_t v, const int64_t* target, const float* weights,
                              float* nll, float* lse, uint8_t* hit) {
  const bool avx = simd_path();
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t tg = target[r];
    if (tg < 0 || tg >= v) return r;
    const float w = weights ? weights[r] : 1.0f;
    if (w == 0.0f) {
      nll[r] = 0.0f;
      lse[r] = 0.0f;
      hit[r] = 0;
      continue;
    }
    const float* zr = z + r * v;
    float mx, l;
    int64_t arg;
    avx ? ce_row_avx2(zr, v, &mx, &arg, &l) : ce_row_scalar(zr, v, &mx, &arg, &l);
    lse[r] = l;
    nll[r] = w * (l - zr[tg]);
    hit[r] = (arg == tg && w > 0.0f) ? 1 : 0;
  }
  return -1;
}

void cross_entropy_backward(const float* z, int64_t rows, int64_t v, const int64_t* target, const float* weights,
                            const float* lse, const float* g, float* dz) {
  const bool avx = simd_path();
  for (int64_t r = 0; r < rows; ++r) {
    const float coef = g[r] * (weights ? weights[r] : 1.0f);
    float* dr = dz + r * v;
    if (coef == 0.0f) {
      std::memset(dr, 0, sizeof(float) * static_cast<size_t>(v));
      continue;
    }
    avx ? ce_bwd_row_avx2(z + r * v, v, lse[r], coef, dr) : ce_bwd_row_scalar(z + r * v, v, lse[r], coef, dr);
    dr[target[r]] -= coef;
  }
}

}  // namespace fedlora::lora::kernels
