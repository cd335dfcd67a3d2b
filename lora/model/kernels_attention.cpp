// RoPE/regrouping and causal softmax kernels of the attention op (fused_kernels.h).
#include "lora/model/fused_kernels.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "lora/model/kernels_simd.h"

namespace fedlora::lora::kernels {
namespace {

using namespace detail;

// Offsets of head h at (b, p) in the natural and grouped layouts.
struct HeadOffsets {
  int64_t natural, grouped;
};
inline HeadOffsets head_offsets(int64_t b, int64_t p, int64_t h, int64_t t, int64_t heads, int64_t group, int64_t hd) {
  const int64_t kv = h / group, g = h % group, kvs = heads / group;
  return {((b * t + p) * heads + h) * hd, (((b * kvs + kv) * t + p) * group + g) * hd};
}

void rope_regroup_scalar(const float* x, int64_t n, int64_t t, int64_t heads, int64_t group, int64_t hd,
                         const float* c2, const float* s2, bool inverse, bool to_grouped, float* out) {
  const float sign = inverse ? -1.0f : 1.0f;
  for (int64_t b = 0; b < n; ++b)
    for (int64_t p = 0; p < t; ++p)
      for (int64_t h = 0; h < heads; ++h) {
        const auto o = head_offsets(b, p, h, t, heads, group, hd);
        const float* src = x + (to_grouped ? o.natural : o.grouped);
        float* dst = out + (to_grouped ? o.grouped : o.natural);
        if (c2 == nullptr) {
          std::memcpy(dst, src, sizeof(float) * static_cast<size_t>(hd));
          continue;
        }
        const float *c = c2 + p * hd, *sn = s2 + p * hd;
        for (int64_t i = 0; i < hd; i += 2) {
          const float x0 = src[i], x1 = src[i + 1];
          dst[i] = x0 * c[i] + sign * x1 * sn[i];
          dst[i + 1] = x1 * c[i + 1] + sign * x0 * sn[i + 1];
        }
      }
}

void softmax_fwd_scalar(float* s, int64_t rows, int64_t ld, int64_t first, int64_t width, int64_t group) {
  for (int64_t i = 0; i < rows; ++i) {
    float* row = s + i * ld;
    const int64_t len = first + i / group + 1;
    float mx = row[0];
    for (int64_t j = 1; j < len; ++j) mx = std::max(mx, row[j]);
    float sum = 0;
    for (int64_t j = 0; j < len; ++j) sum += (row[j] = std::exp(row[j] - mx));
    const float k = 1.0f / sum;
    for (int64_t j = 0; j < len; ++j) row[j] *= k;
    for (int64_t j = len; j < width; ++j) row[j] = 0.0f;
  }
}

void softmax_bwd_scalar(const float* p, int64_t ldp, float* dp, int64_t ldd, int64_t rows, int64_t first,
                        int64_t width, float scale, int64_t group) {
  for (int64_t i = 0; i < rows; ++i) {
    const float* pr = p + i * ldp;
    float* dr = dp + i * ldd;
    const int64_t len = first + i / group + 1;
    float dot = 0;
    for (int64_t j = 0; j < len; ++j) dot += pr[j] * dr[j];
    for (int64_t j = 0; j < len; ++j) dr[j] = scale * pr[j] * (dr[j] - dot);
    for (int64_t j = len; j < width; ++j) dr[j] = 0.0f;
  }
}

FEDLORA_AVX2 void rope_regroup_avx2(const float* x, int64_t n, int64_t t, int64_t heads, int64_t group, int64_t hd,
                                    const float* c2, const float* s2, bool inverse, bool to_grouped, float* out) {
  const __m256 sign = _mm256_set1_ps(inverse ? -1.0f : 1.0f);
  const float sg = inverse ? -1.0f : 1.0f;
  for (int64_t b = 0; b < n; ++b)
    for (int64_t p = 0; p < t; ++p)
      for (int64_t h = 0; h < heads; ++h) {
        const auto o = head_offsets(b, p, h, t, heads, group, hd);
        const float* src = x + (to_grouped ? o.natural : o.grouped);
        float* dst = out + (to_grouped ? o.grouped : o.natural);
        if (c2 == nullptr) {
          std::memcpy(dst, src, sizeof(float) * static_cast<size_t>(hd));
          continue;
        }
        const float *c = c2 + p * hd, *sn = s2 + p * hd;
        int64_t i = 0;
        for (; i + 8 <= hd; i += 8) {
          const __m256 v = _mm256_loadu_ps(src + i);
          const __m256 sw = _mm256_permute_ps(v, 0xB1);  // (x1, x0) in each pair
          const __m256 sv = _mm256_mul_ps(_mm256_loadu_ps(sn + i), sign);
          _mm256_storeu_ps(dst + i, _mm256_fmadd_ps(sw, sv, _mm256_mul_ps(v, _mm256_loadu_ps(c + i))));
        }
        for (; i < hd; i += 2) {
          const float x0 = src[i], x1 = src[i + 1];
          dst[i] = x0 * c[i] + sg * x1 * sn[i];
          dst[i + 1] = x1 * c[i + 1] + sg * x0 * sn[i + 1];
        }
      }
}

// Score rows are short (the causal prefix, 1..T entries), so tails use masked loads and
// stores rather than scalar exp calls.
FEDLORA_AVX2 void softmax_fwd_avx2(float* s, int64_t rows, int64_t ld, int64_t first, int64_t width,
                                   int64_t group) {
  const __m256 ninf = _mm256_set1_ps(-std::numeric_limits<float>::infinity());
  for (int64_t i = 0; i < rows; ++i) {
    float* row = s + i * ld;
    const int64_t len = first + i / group + 1, full = len & ~int64_t{7}, rest = len - full;
    const __m256i tm = tail_mask(rest);
    __m256 vm = ninf;
    for (int64_t j = 0; j < full; j += 8) vm = _mm256_max_ps(vm, _mm256_loadu_ps(row + j));
    if (rest) vm = _mm256_max_ps(vm, _mm256_blendv_ps(ninf, _mm256_maskload_ps(row + full, tm), _mm256_castsi256_ps(tm)));
    const __m256 vmx = _mm256_set1_ps(hmax(vm));
    __m256 acc = _mm256_setzero_ps();
    for (int64_t j = 0; j < full; j += 8) {
      const __m256 e = exp8(_mm256_sub_ps(_mm256_loadu_ps(row + j), vmx));
      _mm256_storeu_ps(row + j, e);
      acc = _mm256_add_ps(acc, e);
    }
    __m256 et = _mm256_setzero_ps();
    if (rest) {
      et = _mm256_and_ps(exp8(_mm256_sub_ps(_mm256_maskload_ps(row + full, tm), vmx)), _mm256_castsi256_ps(tm));
      acc = _mm256_add_ps(acc, et);
    }
    const __m256 vk = _mm256_set1_ps(1.0f / hsum(acc));
    for (int64_t j = 0; j < full; j += 8) _mm256_storeu_ps(row + j, _mm256_mul_ps(_mm256_loadu_ps(row + j), vk));
    if (rest) _mm256_maskstore_ps(row + full, tm, _mm256_mul_ps(et, vk));
    if (width > len) std::memset(row + len, 0, sizeof(float) * static_cast<size_t>(width - len));
  }
}

FEDLORA_AVX2 void softmax_bwd_avx2(const float* p, int64_t ldp, float* dp, int64_t ldd, int64_t rows, int64_t first,
                                   int64_t width, float scale, int64_t group) {
  for (int64_t i = 0; i < rows; ++i) {
    const float* pr = p + i * ldp;
    float* dr = dp + i * ldd;
    const int64_t len = first + i / group + 1, full = len & ~int64_t{7}, rest = len - full;
    const __m256i tm = tail_mask(rest);
    __m256 acc = _mm256_setzero_ps();
    for (int64_t j = 0; j < full; j += 8) acc = _mm256_fmadd_ps(_mm256_loadu_ps(pr + j), _mm256_loadu_ps(dr + j), acc);
    __m256 pt = _mm256_setzero_ps(), dt = _mm256_setzero_ps();
    if (rest) {  // masked-out lanes load as 0
      pt = _mm256_maskload_ps(pr + full, tm);
      dt = _mm256_maskload_ps(dr + full, tm);
      acc = _mm256_fmadd_ps(pt, dt, acc);
    }
    const __m256 vd = _mm256_set1_ps(hsum(acc)), vs = _mm256_set1_ps(scale);
    for (int64_t j = 0; j < full; j += 8) {
      const __m256 v = _mm256_mul_ps(_mm256_loadu_ps(pr + j), _mm256_sub_ps(_mm256_loadu_ps(dr + j), vd));
      _mm256_storeu_ps(dr + j, _mm256_mul_ps(v, vs));
    }
    if (rest) _mm256_maskstore_ps(dr + full, tm, _mm256_mul_ps(_mm256_mul_ps(pt, _mm256_sub_ps(dt, vd)), vs));
    if (width > len) std::memset(dr + len, 0, sizeof(float) * static_cast<size_t>(width - len));
  }
}

}  // namespace

void rope_regroup(const float* x, int64_t n, int64_t t, int64_t heads, int64_t group, int64_t hd, const float* c2,
                  const float* s2, bool inverse, bool to_grouped, float* out) {
  simd_path() ? rope_regroup_avx2(x, n, t, heads, group, hd, c2, s2, inverse, to_grouped, out)
             : rope_regroup_scalar(x, n, t, heads, group, hd, c2, s2, inverse, to_grouped, out);
}

void causal_softmax_forward(float* s, int64_t rows, int64_t ld, int64_t first, int64_t width, int64_t group) {
  simd_path() ? softmax_fwd_avx2(s, rows, ld, first, width, group)
             : softmax_fwd_scalar(s, rows, ld, first, width, group);
}

void causal_softmax_backward(const float* p, int64_t ldp, float* dp, int64_t ldd, int64_t rows, int64_t first,
                             int64_t width, float scale, int64_t group) {
  simd_path() ? softmax_bwd_avx2(p, ldp, dp, ldd, rows, first, width, scale, group)
             : softmax_bwd_scalar(p, ldp, dp, ldd, rows, first, width, scale, group);
}

}  // namespace fedlora::lora::kernels
