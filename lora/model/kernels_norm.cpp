// RMSNorm and SwiGLU row kernels (fused_kernels.h).
#include "lora/model/fused_kernels.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "lora/model/kernels_simd.h"

namespace fedlora::lora::kernels {
namespace {

using namespace detail;

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

}  // namespace

void rms_norm_forward(const float* x, const float* w, float eps, int64_t rows, int64_t d, float* y, float* inv,
                      const float* delta, float* sum_out) {
  simd_path() ? rms_fwd_avx2(x, w, eps, rows, d, y, inv, delta, sum_out)
             : rms_fwd_scalar(x, w, eps, rows, d, y, inv, delta, sum_out);
}

void rms_norm_backward(const float* x, const float* w, const float* inv, const float* g, const float* extra,
                       int64_t rows, int64_t d, float* dx, float* dw) {
  simd_path() ? rms_bwd_avx2(x, w, inv, g, extra, rows, d, dx, dw) : rms_bwd_scalar(x, w, inv, g, extra, rows, d, dx, dw);
}

void swiglu_forward(const float* gate, const float* up, int64_t n, float* out) {
  simd_path() ? swiglu_fwd_avx2(gate, up, n, out) : swiglu_fwd_scalar(gate, up, n, out);
}

void swiglu_backward(const float* gate, const float* up, const float* d, int64_t n, float* dgate, float* dup) {
  simd_path() ? swiglu_bwd_avx2(gate, up, d, n, dgate, dup) : swiglu_bwd_scalar(gate, up, d, n, dgate, dup);
}

}  // namespace fedlora::lora::kernels
