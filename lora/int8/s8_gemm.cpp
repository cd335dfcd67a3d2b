#include "lora/int8/s8_gemm.h"

#include <algorithm>
#include <stdexcept>
#include <string>
#include <vector>

#if defined(FEDLORA_INT8_ONEDNN)
#include <map>
#include <memory>
#include <tuple>
#include <utility>

#include <dnnl.hpp>
#endif
#if defined(__aarch64__)
#include <arm_neon.h>
#include <sys/auxv.h>
#ifndef HWCAP_ASIMDDP
#define HWCAP_ASIMDDP (1 << 20)
#endif
#endif

namespace fedlora::lora {
namespace {

void check_dims(int64_t m, int64_t k, int64_t n) {
  if (m < 0 || k < 0 || n < 0)
    throw std::invalid_argument("gemm_s8s8s32: negative dimension (m " + std::to_string(m) + ", k " + std::to_string(k) +
                                ", n " + std::to_string(n) + ")");
}

#if defined(FEDLORA_INT8_ONEDNN)
// One oneDNN engine, stream and matmul primitive per (m, k, n, layout) and thread: creating
// a primitive costs far more than running a small one.
struct Dnnl {
  dnnl::engine engine{dnnl::engine::kind::cpu, 0};
  dnnl::stream stream{engine};
  std::map<std::tuple<int64_t, int64_t, int64_t, bool>, dnnl::matmul> cache;

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

  // The weights layout oneDNN picks for a [k, n] B (format_tag::any). With the brgemm
  // kernels it does not depend on m (checked for m = 1 … 2048); gemm_packed asks for exactly
  // this layout, so a kernel that wanted another would fail loudly rather than misread B.
  dnnl::memory::desc packed_desc(int64_t k, int64_t n) {
    using dt = dnnl::memory::data_type;
    using tag = dnnl::memory::format_tag;
    constexpr int64_t kM = 512;
    const dnnl::memory::desc ad({kM, k}, dt::s8, tag::ab), bd({k, n}, dt::s8, tag::any), cd({kM, n}, dt::s32, tag::ab);
    return dnnl::matmul::primitive_desc(dnnl::matmul::desc(ad, bd, cd), engine).weights_desc();
  }

  std::map<std::tuple<int64_t, int64_t, int64_t, int64_t>, dnnl::matmul> packed_cache;

  void gemm_packed(const int8_t* a, const dnnl::memory& b, int32_t* c, int64_t ldc, int64_t m, int64_t k, int64_t n) {
    using dt = dnnl::memory::data_type;
    using tag = dnnl::memory::format_tag;
    const dnnl::memory::desc ad({m, k}, dt::s8, tag::ab), cd({m, n}, dt::s32, dnnl::memory::dims{ldc, 1});
    auto key = std::make_tuple(m, k, n, ldc);
    auto it = packed_cache.find(key);
    if (it == packed_cache.end()) {
      auto pd = dnnl::matmul::primitive_desc(dnnl::matmul::desc(ad, b.get_desc(), cd), engine);
      it = packed_cache.emplace(key, dnnl::matmul(pd)).first;
    }
    dnnl::memory am(ad, engine, const_cast<int8_t*>(a)), cm(cd, engine, c);
    it->second.execute(stream, {{DNNL_ARG_SRC, am}, {DNNL_ARG_WEIGHTS, b}, {DNNL_ARG_DST, cm}});
    stream.wait();
  }
};

Dnnl& dnnl_here() {
  thread_local Dnnl d;
  return d;
}

// Runs f, turning oneDNN's errors into std::runtime_error naming `who`.
template <class F>
auto onednn_call(const char* who, F f) {
  try {
    return f();
  } catch (const dnnl::error& e) {
    throw std::runtime_error(std::string(who) + ": oneDNN failed: " + e.what());
  }
}
#endif

#if defined(__aarch64__)
// Both kernels take B as [n, k] (rows of Bᵀ), so every output is a dot product of two
// contiguous int8 rows. 4 × 4 outputs per tile, 16 k-values per step.
int32_t dot_tail(const int8_t* a, const int8_t* b, int64_t from, int64_t k) {
  int32_t s = 0;
  for (int64_t p = from; p < k; ++p) s += int32_t{a[p]} * int32_t{b[p]};
  return s;
}

__attribute__((target("arch=armv8.2-a+dotprod"))) void gemm_nk_sdot(const int8_t* a, const int8_t* bt, int32_t* c,
                                                                     int64_t m, int64_t k, int64_t n) {
  const int64_t k16 = k / 16 * 16;
  int64_t i = 0;
  for (; i + 4 <= m; i += 4) {
    int64_t j = 0;
    for (; j + 4 <= n; j += 4) {
      int32x4_t acc[4][4];
      for (auto& r : acc)
        for (auto& v : r) v = vdupq_n_s32(0);
      for (int64_t p = 0; p < k16; p += 16) {
        int8x16_t av[4], bv[4];
        for (int r = 0; r < 4; ++r) av[r] = vld1q_s8(a + (i + r) * k + p);
        for (int q = 0; q < 4; ++q) bv[q] = vld1q_s8(bt + (j + q) * k + p);
        for (int r = 0; r < 4; ++r)
          for (int q = 0; q < 4; ++q) acc[r][q] = vdotq_s32(acc[r][q], av[r], bv[q]);
      }
      for (int r = 0; r < 4; ++r)
        for (int q = 0; q < 4; ++q)
          c[(i + r) * n + j + q] = vaddvq_s32(acc[r][q]) + dot_tail(a + (i + r) * k, bt + (j + q) * k, k16, k);
    }
    for (; j < n; ++j)
      for (int r = 0; r < 4; ++r) {
        int32x4_t acc = vdupq_n_s32(0);
        for (int64_t p = 0; p < k16; p += 16) acc = vdotq_s32(acc, vld1q_s8(a + (i + r) * k + p), vld1q_s8(bt + j * k + p));
        c[(i + r) * n + j] = vaddvq_s32(acc) + dot_tail(a + (i + r) * k, bt + j * k, k16, k);
      }
  }
  for (; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      int32x4_t acc = vdupq_n_s32(0);
      for (int64_t p = 0; p < k16; p += 16) acc = vdotq_s32(acc, vld1q_s8(a + i * k + p), vld1q_s8(bt + j * k + p));
      c[i * n + j] = vaddvq_s32(acc) + dot_tail(a + i * k, bt + j * k, k16, k);
    }
}

// Without dotprod: widening multiplies (vmull_s8) and pairwise accumulation into int32.
void gemm_nk_neon(const int8_t* a, const int8_t* bt, int32_t* c, int64_t m, int64_t k, int64_t n) {
  const int64_t k16 = k / 16 * 16;
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      int32x4_t acc = vdupq_n_s32(0);
      for (int64_t p = 0; p < k16; p += 16) {
        const int8x16_t x = vld1q_s8(a + i * k + p), y = vld1q_s8(bt + j * k + p);
        acc = vpadalq_s16(acc, vmull_s8(vget_low_s8(x), vget_low_s8(y)));
        acc = vpadalq_s16(acc, vmull_s8(vget_high_s8(x), vget_high_s8(y)));
      }
      c[i * n + j] = vaddvq_s32(acc) + dot_tail(a + i * k, bt + j * k, k16, k);
    }
}

bool have_sdot() {
  static const bool yes = (getauxval(AT_HWCAP) & HWCAP_ASIMDDP) != 0;
  return yes;
}

// B [k, n] → Bᵀ [n, k], in a per-thread buffer reused across calls.
const int8_t* transposed(const int8_t* b, int64_t k, int64_t n) {
  thread_local std::vector<int8_t> t;
  if (t.size() < static_cast<size_t>(k * n)) t.resize(static_cast<size_t>(k * n));
  for (int64_t p = 0; p < k; ++p)
    for (int64_t j = 0; j < n; ++j) t[static_cast<size_t>(j * k + p)] = b[p * n + j];
  return t.data();
}
#endif

}  // namespace

void gemm_s8s8s32_ref(const int8_t* a, const int8_t* b, int32_t* c, int64_t m, int64_t k, int64_t n, bool b_is_nk) {
  check_dims(m, k, n);
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      int32_t s = 0;
      for (int64_t p = 0; p < k; ++p) s += int32_t{a[i * k + p]} * int32_t{b_is_nk ? b[j * k + p] : b[p * n + j]};
      c[i * n + j] = s;
    }
}

void gemm_s8s8s32(const int8_t* a, const int8_t* b, int32_t* c, int64_t m, int64_t k, int64_t n, bool b_is_nk) {
  check_dims(m, k, n);
  if (m == 0 || n == 0) return;
#if defined(FEDLORA_INT8_ONEDNN)
  if (k == 0) {  // oneDNN refuses empty reductions; the product is all zeros
    for (int64_t i = 0; i < m * n; ++i) c[i] = 0;
    return;
  }
  try {
    dnnl_here().gemm(a, b, c, m, k, n, b_is_nk);
  } catch (const dnnl::error& e) {
    throw std::runtime_error(std::string("gemm_s8s8s32: oneDNN matmul failed: ") + e.what());
  }
#elif defined(__aarch64__)
  const int8_t* bt = b_is_nk ? b : transposed(b, k, n);
  if (have_sdot()) gemm_nk_sdot(a, bt, c, m, k, n);
  else gemm_nk_neon(a, bt, c, m, k, n);
#else
  gemm_s8s8s32_ref(a, b, c, m, k, n, b_is_nk);
#endif
}

#if defined(FEDLORA_INT8_ONEDNN)
using Panels = std::vector<dnnl::memory>;
#endif

PackedS8Matrix pack_s8_matrix(const int8_t* b, int64_t k, int64_t n, bool b_is_nk) {
  check_dims(0, k, n);
  PackedS8Matrix p;
#if defined(FEDLORA_INT8_ONEDNN)
  if (k == 0 || n == 0) return p;
  auto panels = onednn_call("pack_s8_matrix", [&] {
    Dnnl& d = dnnl_here();
    using dt = dnnl::memory::data_type;
    using tag = dnnl::memory::format_tag;
    auto out = std::make_shared<Panels>();
    std::vector<int8_t> block;  // a column block of a [k, n] B, made dense (the s8 reorder wants it so)
    for (int64_t j0 = 0; j0 < n; j0 += PackedS8Matrix::kPanelCols) {
      const int64_t nb = std::min(PackedS8Matrix::kPanelCols, n - j0);
      // Columns [j0, j0 + nb) of B: rows j0… of the stored [n, k] (dense already), or a
      // column block of [k, n].
      const int8_t* first = b + j0 * k;
      if (!b_is_nk) {
        block.resize(static_cast<size_t>(k * nb));
        for (int64_t p = 0; p < k; ++p) std::copy_n(b + p * n + j0, nb, block.data() + p * nb);
        first = block.data();
      }
      const dnnl::memory::desc plain({k, nb}, dt::s8, b_is_nk ? tag::ba : tag::ab);
      dnnl::memory dst(d.packed_desc(k, nb), d.engine);  // oneDNN owns the buffer
      dnnl::memory src(plain, d.engine, const_cast<int8_t*>(first));
      dnnl::reorder(src, dst).execute(d.stream, src, dst);
      out->push_back(std::move(dst));
    }
    d.stream.wait();
    return out;
  });
  for (const auto& m : *panels) p.bytes_ += m.get_desc().get_size();
  p.impl_ = std::move(panels);
  p.k_ = k;
  p.n_ = n;
#else
  (void)b;
  (void)b_is_nk;
#endif
  return p;
}

std::size_t packed_s8_matrix_bytes(int64_t k, int64_t n, bool b_is_nk) {
  check_dims(0, k, n);
  (void)b_is_nk;  // both plain layouts pack into the same format
#if defined(FEDLORA_INT8_ONEDNN)
  if (k == 0 || n == 0) return 0;
  thread_local std::map<std::pair<int64_t, int64_t>, std::size_t> sizes;  // a primitive desc per ask is slow
  auto it = sizes.find({k, n});
  if (it == sizes.end())
    it = sizes.emplace(std::make_pair(k, n), onednn_call("packed_s8_matrix_bytes", [&] {
                         std::size_t total = 0;
                         for (int64_t j0 = 0; j0 < n; j0 += PackedS8Matrix::kPanelCols)
                           total += dnnl_here().packed_desc(k, std::min(PackedS8Matrix::kPanelCols, n - j0)).get_size();
                         return total;
                       })).first;
  return it->second;
#else
  return 0;
#endif
}

void gemm_s8s8s32_packed_panel(const int8_t* a, const PackedS8Matrix& b, int64_t panel, int32_t* c, int64_t ldc,
                               int64_t m) {
  if (b.empty()) throw std::invalid_argument("gemm_s8s8s32_packed_panel: B is not packed");
  if (panel < 0 || panel >= b.panels())
    throw std::invalid_argument("gemm_s8s8s32_packed_panel: no panel " + std::to_string(panel) + " (B has " +
                                std::to_string(b.panels()) + ")");
  const int64_t nb = b.panel_cols(panel);
  check_dims(m, b.k(), nb);
  if (ldc < nb)
    throw std::invalid_argument("gemm_s8s8s32_packed_panel: ldc " + std::to_string(ldc) + " < panel width " +
                                std::to_string(nb));
  if (m == 0) return;
#if defined(FEDLORA_INT8_ONEDNN)
  const auto& panels = *std::static_pointer_cast<const Panels>(b.impl_);
  onednn_call("gemm_s8s8s32_packed", [&] {
    dnnl_here().gemm_packed(a, panels[static_cast<size_t>(panel)], c, ldc, m, b.k(), nb);
  });
#else
  (void)a;
  (void)c;
#endif
}

void gemm_s8s8s32_packed(const int8_t* a, const PackedS8Matrix& b, int32_t* c, int64_t m) {
  if (b.empty()) throw std::invalid_argument("gemm_s8s8s32_packed: B is not packed");
  check_dims(m, b.k(), b.n());
  if (b.panels() == 1) return gemm_s8s8s32_packed_panel(a, b, 0, c, b.n(), m);
  // Each panel into a compact block, then copied into C's columns: oneDNN 2.6 runs a matmul
  // whose int32 destination has a row stride wider than its columns on its reference kernel
  // (measured 0.23 GOP/s against 754 on one core, m = 512, k × n = 2048 × 2048).
  thread_local std::vector<int32_t> block;
  block.resize(static_cast<size_t>(m * PackedS8Matrix::kPanelCols));
  for (int64_t p = 0; p < b.panels(); ++p) {
    const int64_t nb = b.panel_cols(p), j0 = p * PackedS8Matrix::kPanelCols;
    gemm_s8s8s32_packed_panel(a, b, p, block.data(), nb, m);
    for (int64_t i = 0; i < m; ++i) std::copy_n(block.data() + i * nb, nb, c + i * b.n() + j0);
  }
}

const char* s8_gemm_backend() {
#if defined(FEDLORA_INT8_ONEDNN)
  return "onednn";
#elif defined(__aarch64__)
  return have_sdot() ? "neon-sdot" : "neon";
#else
  return "scalar";
#endif
}

}  // namespace fedlora::lora
