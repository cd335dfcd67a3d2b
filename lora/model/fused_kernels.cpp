#include "lora/model/fused_kernels.h"

#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

namespace fedlora::lora::kernels {
namespace {

bool cpu_has_avx2_fma() {
  static const bool ok = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return ok;
}
bool g_simd = true;

// ---------------------------------------------------------------- scalar reference paths

void rms_fwd_scalar(const float* x, const float* w, float eps, int64_t rows, int64_t d, float* y, float* inv,
                    const float* delta, float* sum_out) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * d;
    if (delta) {
      for (int64_t i = 0; i < d; ++i) sum_out[r * d + i] = xr[i] + delta[r * d + i];
      xr = sum_out + r * d;
    }
    float ss = 0;
    for (int64_t i = 0; i < d; ++i) ss += xr[i] * xr[i];
    const float iv = 1.0f / std::sqrt(ss / static_cast<float>(d) + eps);
    inv[r] = iv;
    for (int64_t i = 0; i < d; ++i) y[r * d + i] = xr[i] * iv * w[i];
  }
}

void rms_bwd_scalar(const float* x, const float* w, const float* inv, const float* g, const float* extra,
                    int64_t rows, int64_t d, float* dx, float* dw) {
  for (int64_t r = 0; r < rows; ++r) {
    const float *xr = x + r * d, *gr = g + r * d;
    const float iv = inv[r];
    float dot = 0;
    for (int64_t i = 0; i < d; ++i) dot += gr[i] * w[i] * xr[i];
    const float k = iv * iv * iv * dot / static_cast<float>(d);
    for (int64_t i = 0; i < d; ++i) {
      const float e = extra ? extra[r * d + i] : 0.0f;
      dx[r * d + i] = e + iv * gr[i] * w[i] - xr[i] * k;
    }
    if (dw)
      for (int64_t i = 0; i < d; ++i) dw[i] += gr[i] * xr[i] * iv;
  }
}

inline float sigmoid(float g) { return 1.0f / (1.0f + std::exp(-g)); }

void swiglu_fwd_scalar(const float* gate, const float* up, int64_t n, float* out) {
  for (int64_t i = 0; i < n; ++i) out[i] = gate[i] * sigmoid(gate[i]) * up[i];
}

void swiglu_bwd_scalar(const float* gate, const float* up, const float* d, int64_t n, float* dgate, float* dup) {
  for (int64_t i = 0; i < n; ++i) {
    const float g = gate[i], s = sigmoid(g);
    dup[i] = d[i] * g * s;
    dgate[i] = d[i] * up[i] * s * (1.0f + g * (1.0f - s));
  }
}

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

// p[m, j] = Σ_k x[m, k] c[j, k] for j < r (x row stride ldx, c [r, k], p [rows, r]).
void xct_scalar(const float* x, int64_t rows, int64_t k, int64_t ldx, const float* c, int64_t r, float* p) {
  for (int64_t m = 0; m < rows; ++m)
    for (int64_t j = 0; j < r; ++j) {
      float acc = 0;
      for (int64_t i = 0; i < k; ++i) acc += x[m * ldx + i] * c[j * k + i];
      p[m * r + j] = acc;
    }
}

// z[j, :] += Σ_m y[m, j] x[m, :] (y [rows, r], x row stride ldx, z [r, k]).
void ytx_scalar(const float* y, int64_t r, const float* x, int64_t ldx, int64_t rows, int64_t k, float* z) {
  for (int64_t m = 0; m < rows; ++m)
    for (int64_t j = 0; j < r; ++j) {
      const float yv = y[m * r + j];
      for (int64_t i = 0; i < k; ++i) z[j * k + i] += yv * x[m * ldx + i];
    }
}

// ---------------------------------------------------------------- AVX2 + FMA paths

#define FEDLORA_AVX2 __attribute__((target("avx2,fma")))

FEDLORA_AVX2 inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

FEDLORA_AVX2 inline float hmax(__m256 v) {
  __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_max_ps(s, _mm_movehl_ps(s, s));
  s = _mm_max_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// e^x, Cephes expf (range reduction by ln 2 in two parts, degree-6 polynomial), relative
// error ~1e-7 on the clamped range [-87.34, 88]; NaN in gives NaN out.
FEDLORA_AVX2 inline __m256 exp8(__m256 x) {
  const __m256 hi = _mm256_set1_ps(88.0f), lo = _mm256_set1_ps(-87.336544f);
  x = _mm256_min_ps(hi, x);  // operand order keeps NaN (min/max return the 2nd on NaN)
  x = _mm256_max_ps(lo, x);
  const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                   _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
  __m256 y = _mm256_set1_ps(1.9875691500e-4f);
  y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(1.3981999507e-3f));
  y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(8.3334519073e-3f));
  y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(4.1665795894e-2f));
  y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(1.6666665459e-1f));
  y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(5.0000001201e-1f));
  y = _mm256_fmadd_ps(y, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
  const __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  return _mm256_mul_ps(y, _mm256_castsi256_ps(e));
}

// Scalar e^x with the same polynomial, for row tails (so a row's values do not depend on
// where the 8-wide chunks end).
FEDLORA_AVX2 inline float exp1(float x) {
  alignas(32) float buf[8];
  _mm256_store_ps(buf, exp8(_mm256_set1_ps(x)));
  return buf[0];
}

FEDLORA_AVX2 void rms_fwd_avx2(const float* x, const float* w, float eps, int64_t rows, int64_t d, float* y,
                               float* inv, const float* delta, float* sum_out) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * d;
    float* yr = y + r * d;
    __m256 acc = _mm256_setzero_ps();
    int64_t i = 0;
    float ss = 0;
    if (delta) {
      const float* dr = delta + r * d;
      float* sr = sum_out + r * d;
      for (; i + 8 <= d; i += 8) {
        const __m256 v = _mm256_add_ps(_mm256_loadu_ps(xr + i), _mm256_loadu_ps(dr + i));
        _mm256_storeu_ps(sr + i, v);
        acc = _mm256_fmadd_ps(v, v, acc);
      }
      ss = hsum(acc);
      for (; i < d; ++i) {
        sr[i] = xr[i] + dr[i];
        ss += sr[i] * sr[i];
      }
      xr = sr;
    } else {
      for (; i + 8 <= d; i += 8) {
        const __m256 v = _mm256_loadu_ps(xr + i);
        acc = _mm256_fmadd_ps(v, v, acc);
      }
      ss = hsum(acc);
      for (; i < d; ++i) ss += xr[i] * xr[i];
    }
    const float iv = 1.0f / std::sqrt(ss / static_cast<float>(d) + eps);
    inv[r] = iv;
    const __m256 vi = _mm256_set1_ps(iv);
    for (i = 0; i + 8 <= d; i += 8)
      _mm256_storeu_ps(yr + i, _mm256_mul_ps(_mm256_mul_ps(_mm256_loadu_ps(xr + i), vi), _mm256_loadu_ps(w + i)));
    for (; i < d; ++i) yr[i] = xr[i] * iv * w[i];
  }
}

FEDLORA_AVX2 void rms_bwd_avx2(const float* x, const float* w, const float* inv, const float* g, const float* extra,
                               int64_t rows, int64_t d, float* dx, float* dw) {
  for (int64_t r = 0; r < rows; ++r) {
    const float *xr = x + r * d, *gr = g + r * d;
    const float* er = extra ? extra + r * d : nullptr;
    float* dr = dx + r * d;
    const float iv = inv[r];
    __m256 acc = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 8 <= d; i += 8)
      acc = _mm256_fmadd_ps(_mm256_mul_ps(_mm256_loadu_ps(gr + i), _mm256_loadu_ps(w + i)), _mm256_loadu_ps(xr + i), acc);
    float dot = hsum(acc);
    for (; i < d; ++i) dot += gr[i] * w[i] * xr[i];
    const float k = iv * iv * iv * dot / static_cast<float>(d);
    const __m256 vi = _mm256_set1_ps(iv), vk = _mm256_set1_ps(k);
    for (i = 0; i + 8 <= d; i += 8) {
      const __m256 xv = _mm256_loadu_ps(xr + i), gv = _mm256_loadu_ps(gr + i);
      __m256 o = _mm256_mul_ps(_mm256_mul_ps(gv, _mm256_loadu_ps(w + i)), vi);
      o = _mm256_fnmadd_ps(xv, vk, o);
      if (er) o = _mm256_add_ps(_mm256_loadu_ps(er + i), o);
      _mm256_storeu_ps(dr + i, o);
      if (dw) _mm256_storeu_ps(dw + i, _mm256_fmadd_ps(_mm256_mul_ps(gv, xv), vi, _mm256_loadu_ps(dw + i)));
    }
    for (; i < d; ++i) {
      const float e = er ? er[i] : 0.0f;
      dr[i] = e + (iv * gr[i] * w[i] - xr[i] * k);
      if (dw) dw[i] += gr[i] * xr[i] * iv;
    }
  }
}

FEDLORA_AVX2 inline __m256 sigmoid8(__m256 g) {
  const __m256 one = _mm256_set1_ps(1.0f);
  return _mm256_div_ps(one, _mm256_add_ps(one, exp8(_mm256_sub_ps(_mm256_setzero_ps(), g))));
}

FEDLORA_AVX2 void swiglu_fwd_avx2(const float* gate, const float* up, int64_t n, float* out) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 g = _mm256_loadu_ps(gate + i);
    _mm256_storeu_ps(out + i, _mm256_mul_ps(_mm256_mul_ps(g, sigmoid8(g)), _mm256_loadu_ps(up + i)));
  }
  for (; i < n; ++i) out[i] = gate[i] / (1.0f + exp1(-gate[i])) * up[i];
}

FEDLORA_AVX2 void swiglu_bwd_avx2(const float* gate, const float* up, const float* d, int64_t n, float* dgate,
                                  float* dup) {
  const __m256 one = _mm256_set1_ps(1.0f);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 g = _mm256_loadu_ps(gate + i), s = sigmoid8(g), dv = _mm256_loadu_ps(d + i);
    _mm256_storeu_ps(dup + i, _mm256_mul_ps(dv, _mm256_mul_ps(g, s)));
    const __m256 ds = _mm256_mul_ps(s, _mm256_fmadd_ps(g, _mm256_sub_ps(one, s), one));
    _mm256_storeu_ps(dgate + i, _mm256_mul_ps(_mm256_mul_ps(dv, _mm256_loadu_ps(up + i)), ds));
  }
  for (; i < n; ++i) {
    const float g = gate[i], s = 1.0f / (1.0f + exp1(-g));
    dup[i] = d[i] * g * s;
    dgate[i] = d[i] * up[i] * s * (1.0f + g * (1.0f - s));
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

// Lane mask with the first n (0..8) lanes set, for the tail of a row.
FEDLORA_AVX2 inline __m256i tail_mask(int64_t n) {
  alignas(32) static const int32_t table[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(table + 8 - n));
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

// p[m, j0 + j] for j < R: R dot products per row, 8 lanes at a time, then a transposing
// horizontal reduction.
template <int R>
FEDLORA_AVX2 void xct_block_avx2(const float* x, int64_t rows, int64_t k, int64_t ldx, const float* c, float* p,
                                 int64_t ldp) {
  for (int64_t m = 0; m < rows; ++m) {
    const float* xr = x + m * ldx;
    __m256 acc[R];
    for (int j = 0; j < R; ++j) acc[j] = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 8 <= k; i += 8) {
      const __m256 xv = _mm256_loadu_ps(xr + i);
      for (int j = 0; j < R; ++j) acc[j] = _mm256_fmadd_ps(xv, _mm256_loadu_ps(c + j * k + i), acc[j]);
    }
    for (int j = 0; j < R; ++j) {
      float s = hsum(acc[j]);
      for (int64_t t = i; t < k; ++t) s += xr[t] * c[j * k + t];
      p[m * ldp + j] = s;
    }
  }
}

// z[j, :] += Σ_m y[m, j0 + j] x[m, :] for j < R, 8 columns at a time with the R
// accumulators in registers across the rows.
template <int R>
FEDLORA_AVX2 void ytx_block_avx2(const float* y, int64_t ldy, const float* x, int64_t ldx, int64_t rows, int64_t k,
                                 float* z) {
  int64_t i = 0;
  for (; i + 8 <= k; i += 8) {
    __m256 acc[R];
    for (int j = 0; j < R; ++j) acc[j] = _mm256_loadu_ps(z + j * k + i);
    for (int64_t m = 0; m < rows; ++m) {
      const __m256 xv = _mm256_loadu_ps(x + m * ldx + i);
      const float* ym = y + m * ldy;
      for (int j = 0; j < R; ++j) acc[j] = _mm256_fmadd_ps(_mm256_broadcast_ss(ym + j), xv, acc[j]);
    }
    for (int j = 0; j < R; ++j) _mm256_storeu_ps(z + j * k + i, acc[j]);
  }
  for (; i < k; ++i)
    for (int64_t m = 0; m < rows; ++m)
      for (int j = 0; j < R; ++j) z[j * k + i] += y[m * ldy + j] * x[m * ldx + i];
}

// Runs BlockFn<R> over r in blocks of 8 columns (the last block narrower).
template <template <int> class Fn, class... Args>
void over_rank_blocks(int64_t r, Args... args) {
  for (int64_t j0 = 0; j0 < r; j0 += 8) {
    switch (std::min<int64_t>(8, r - j0)) {
      case 1: Fn<1>::run(j0, args...); break;
      case 2: Fn<2>::run(j0, args...); break;
      case 3: Fn<3>::run(j0, args...); break;
      case 4: Fn<4>::run(j0, args...); break;
      case 5: Fn<5>::run(j0, args...); break;
      case 6: Fn<6>::run(j0, args...); break;
      case 7: Fn<7>::run(j0, args...); break;
      default: Fn<8>::run(j0, args...); break;
    }
  }
}

template <int R>
struct XctAvx2 {
  // p [rows, r], c [r, k]
  static void run(int64_t j0, const float* x, int64_t rows, int64_t k, int64_t ldx, const float* c, float* p,
                  int64_t r) {
    xct_block_avx2<R>(x, rows, k, ldx, c + j0 * k, p + j0, r);
  }
};

template <int R>
struct YtxAvx2 {
  // y [rows, r], z [r, k]
  static void run(int64_t j0, const float* y, int64_t r, const float* x, int64_t ldx, int64_t rows, int64_t k,
                  float* z) {
    ytx_block_avx2<R>(y + j0, r, x, ldx, rows, k, z + j0 * k);
  }
};

#undef FEDLORA_AVX2

bool use_avx2() { return g_simd && cpu_has_avx2_fma(); }

}  // namespace

bool simd_enabled() { return use_avx2(); }
void set_simd(bool enabled) { g_simd = enabled; }

void rms_norm_forward(const float* x, const float* w, float eps, int64_t rows, int64_t d, float* y, float* inv,
                      const float* delta, float* sum_out) {
  use_avx2() ? rms_fwd_avx2(x, w, eps, rows, d, y, inv, delta, sum_out)
             : rms_fwd_scalar(x, w, eps, rows, d, y, inv, delta, sum_out);
}

void rms_norm_backward(const float* x, const float* w, const float* inv, const float* g, const float* extra,
                       int64_t rows, int64_t d, float* dx, float* dw) {
  use_avx2() ? rms_bwd_avx2(x, w, inv, g, extra, rows, d, dx, dw) : rms_bwd_scalar(x, w, inv, g, extra, rows, d, dx, dw);
}

void swiglu_forward(const float* gate, const float* up, int64_t n, float* out) {
  use_avx2() ? swiglu_fwd_avx2(gate, up, n, out) : swiglu_fwd_scalar(gate, up, n, out);
}

void swiglu_backward(const float* gate, const float* up, const float* d, int64_t n, float* dgate, float* dup) {
  use_avx2() ? swiglu_bwd_avx2(gate, up, d, n, dgate, dup) : swiglu_bwd_scalar(gate, up, d, n, dgate, dup);
}

void rope_regroup(const float* x, int64_t n, int64_t t, int64_t heads, int64_t group, int64_t hd, const float* c2,
                  const float* s2, bool inverse, bool to_grouped, float* out) {
  use_avx2() ? rope_regroup_avx2(x, n, t, heads, group, hd, c2, s2, inverse, to_grouped, out)
             : rope_regroup_scalar(x, n, t, heads, group, hd, c2, s2, inverse, to_grouped, out);
}

void causal_softmax_forward(float* s, int64_t rows, int64_t ld, int64_t first, int64_t width, int64_t group) {
  use_avx2() ? softmax_fwd_avx2(s, rows, ld, first, width, group)
             : softmax_fwd_scalar(s, rows, ld, first, width, group);
}

void causal_softmax_backward(const float* p, int64_t ldp, float* dp, int64_t ldd, int64_t rows, int64_t first,
                             int64_t width, float scale, int64_t group) {
  use_avx2() ? softmax_bwd_avx2(p, ldp, dp, ldd, rows, first, width, scale, group)
             : softmax_bwd_scalar(p, ldp, dp, ldd, rows, first, width, scale, group);
}

int64_t cross_entropy_forward(const float* z, int64_t rows, int64_t v, const int64_t* target, const float* weights,
                              float* nll, float* lse, uint8_t* hit) {
  const bool avx = use_avx2();
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
  const bool avx = use_avx2();
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

void lora_grad_accumulate(const float* x, const float* d, int64_t rows, int64_t in, int64_t out, const float* a,
                          const float* bt, int64_t r, float* da, float* dbt) {
  // Blocks of rows small enough that the block of x and of δ stay in L2 between the
  // product that reads them first and the one that reads them again.
  constexpr int64_t kBlock = 128;
  thread_local std::vector<float> gb, h;
  gb.resize(static_cast<size_t>(kBlock * r));
  h.resize(static_cast<size_t>(kBlock * r));
  const bool avx = use_avx2();
  for (int64_t m0 = 0; m0 < rows; m0 += kBlock) {
    const int64_t mb = std::min(kBlock, rows - m0);
    const float *xb = x + m0 * in, *db = d + m0 * out;
    if (avx) {
      over_rank_blocks<XctAvx2>(r, db, mb, out, out, bt, gb.data(), r);  // δB   [mb, r]
      over_rank_blocks<XctAvx2>(r, xb, mb, in, in, a, h.data(), r);      // xAᵀ  [mb, r]
      over_rank_blocks<YtxAvx2>(r, static_cast<const float*>(gb.data()), r, xb, in, mb, in, da);
      over_rank_blocks<YtxAvx2>(r, static_cast<const float*>(h.data()), r, db, out, mb, out, dbt);
    } else {
      xct_scalar(db, mb, out, out, bt, r, gb.data());
      xct_scalar(xb, mb, in, in, a, r, h.data());
      ytx_scalar(gb.data(), r, xb, in, mb, in, da);
      ytx_scalar(h.data(), r, db, out, mb, out, dbt);
    }
  }
}

}  // namespace fedlora::lora::kernels
