#include "lora/int8/int8_linear.h"

#include <algorithm>
#include <iterator>
#include <list>
#include <optional>
#include <stdexcept>
#include <utility>
#include <vector>

#include "lora/int8/int8_scratch.h"
#include "lora/int8/row_quantize.h"
#include "lora/int8/s8_gemm.h"

namespace fedlora::lora {
namespace {

using detail::sized;
using Buffers = detail::Int8Scratch;
Buffers& buffers() { return detail::int8_scratch(); }

}  // namespace

namespace {

struct CachedWeight {
  Int8Weight w;
  std::optional<QuantizedTensor> held;  // keeps the bytes alive while they identify the entry
  bool is(const QuantizedTensor& t) const {
    return held && held->bytes().data() == t.bytes().data() && held->bytes().size() == t.bytes().size() &&
           held->type() == t.type() && held->rows() == t.rows() && held->cols() == t.cols();
  }
  std::size_t bytes() const {
    return w.q.size() + w.scale.size() * sizeof(float) + w.forward_b.bytes() + w.backward_b.bytes();
  }
};

// Most recently used first; `held` is the entries' bytes.
struct WeightCache {
  std::list<CachedWeight> entries;
  std::size_t capacity = 0, held = 0;
};
WeightCache& weight_cache() {
  thread_local WeightCache c;
  return c;
}

// Row-wise int8 of w into out.q (plain); then, if `pack`, into the two packed matrices and
// out.q is released.
void requantize(const QuantizedTensor& w, Int8Weight& out, bool pack) {
  const int64_t rows = w.rows(), cols = w.cols();
  out.rows = rows;
  out.cols = cols;
  out.forward_b = {};
  out.backward_b = {};
  out.q.resize(static_cast<size_t>(rows * cols));
  out.scale.resize(static_cast<size_t>(rows));
  // A few rows at a time through float32: no fp32 copy of the whole weight (46 MB for a
  // 1B-class FFN matrix) is ever held.
  constexpr int64_t kChunkRows = 16;
  float* f = sized(buffers().deq, kChunkRows * cols);
  for (int64_t r0 = 0; r0 < rows; r0 += kChunkRows) {
    const int64_t r1 = std::min(rows, r0 + kChunkRows);
    w.dequantize_rows(r0, r1, f);
    quantize_rows_s8(f, r1 - r0, cols, nullptr, out.q.data() + r0 * cols, out.scale.data() + r0);
  }
  if (!pack) return;
  PackedS8Matrix fwd = pack_s8_matrix(out.q.data(), cols, rows, /*b_is_nk=*/true);
  PackedS8Matrix bwd = pack_s8_matrix(out.q.data(), rows, cols, /*b_is_nk=*/false);
  if (fwd.empty() || bwd.empty()) return;  // no packed layout here (or an empty weight): stay plain
  out.forward_b = std::move(fwd);
  out.backward_b = std::move(bwd);
  std::vector<int8_t>().swap(out.q);
}

}  // namespace

void set_int8_weight_cache_bytes(std::size_t bytes) {
  WeightCache& c = weight_cache();
  c.capacity = bytes;
  while (c.entries.size() > 1 && c.held > c.capacity) {  // the front one may be in use
    c.held -= c.entries.back().bytes();
    c.entries.pop_back();
  }
}

const Int8Weight& int8_weight_view(const QuantizedTensor& w) {
  WeightCache& c = weight_cache();
  for (auto it = c.entries.begin(); it != c.entries.end(); ++it)
    if (it->is(w)) {
      c.entries.splice(c.entries.begin(), c.entries, it);
      return c.entries.front().w;
    }
  // A miss: evict least recently used entries until the new weight fits (or none is
  // left), and rebuild into the last evicted entry's storage (no allocation once warm).
  // Packing pays only for a weight the cache will keep: a packed copy costs a reorder pass.
  const bool pack = c.capacity > 0 && int8_weight_bytes(w.rows(), w.cols()) <= c.capacity;
  const std::size_t need = pack ? int8_weight_bytes(w.rows(), w.cols()) : int8_plain_weight_bytes(w.rows(), w.cols());
  std::list<CachedWeight> spare;
  while (!c.entries.empty() && c.held + need > c.capacity) {
    c.held -= c.entries.back().bytes();
    spare.clear();
    spare.splice(spare.begin(), c.entries, std::prev(c.entries.end()));
  }
  if (spare.empty()) spare.emplace_back();
  CachedWeight& e = spare.front();
  e.held.reset();
  requantize(w, e.w, pack);
  e.held.emplace(w);
  c.entries.splice(c.entries.begin(), spare, spare.begin());
  c.held += c.entries.front().bytes();
  return c.entries.front().w;
}

std::size_t int8_weight_bytes(int64_t rows, int64_t cols) {
  if (rows < 0 || cols < 0) throw std::invalid_argument("int8_weight_bytes: negative shape");
  const std::size_t fwd = packed_s8_matrix_bytes(cols, rows, true), bwd = packed_s8_matrix_bytes(rows, cols, false);
  if (fwd == 0 || bwd == 0) return int8_plain_weight_bytes(rows, cols);
  return fwd + bwd + static_cast<std::size_t>(rows) * sizeof(float);
}

void int8_forward_product(const int8_t* qx, int64_t m, const Int8Weight& w, int32_t* acc) {
  if (!w.forward_b.empty()) gemm_s8s8s32_packed(qx, w.forward_b, acc, m);
  else gemm_s8s8s32(qx, w.q.data(), acc, m, w.cols, w.rows, /*b_is_nk=*/true);
}

void int8_backward_product(const int8_t* qd, int64_t m, const Int8Weight& w, int32_t* acc) {
  if (!w.backward_b.empty()) gemm_s8s8s32_packed(qd, w.backward_b, acc, m);
  else gemm_s8s8s32(qd, w.q.data(), acc, m, w.rows, w.cols, /*b_is_nk=*/false);
}

namespace {

// acc blocks of B's columns: panel by panel when packed, else the whole product.
void product_blocks(const int8_t* a, int64_t m, const PackedS8Matrix& packed, const int8_t* plain, int64_t k,
                    int64_t n, bool b_is_nk, const ProductBlockFn& consume) {
  if (!packed.empty()) {
    int32_t* acc = sized(buffers().acc, m * std::min(n, PackedS8Matrix::kPanelCols));
    for (int64_t p = 0; p < packed.panels(); ++p) {
      const int64_t nb = packed.panel_cols(p);
      gemm_s8s8s32_packed_panel(a, packed, p, acc, nb, m);
      consume(p * PackedS8Matrix::kPanelCols, nb, acc);
    }
    return;
  }
  int32_t* acc = sized(buffers().acc, m * n);
  gemm_s8s8s32(a, plain, acc, m, k, n, b_is_nk);
  consume(0, n, acc);
}

}  // namespace

void int8_forward_product_blocks(const int8_t* qx, int64_t m, const Int8Weight& w, const ProductBlockFn& consume) {
  product_blocks(qx, m, w.forward_b, w.q.data(), w.cols, w.rows, /*b_is_nk=*/true, consume);
}

void int8_backward_product_blocks(const int8_t* qd, int64_t m, const Int8Weight& w, const ProductBlockFn& consume) {
  product_blocks(qd, m, w.backward_b, w.q.data(), w.rows, w.cols, /*b_is_nk=*/false, consume);
}

void int8_linear_forward(const float* x, int64_t m, const Int8Weight& w, float* y) {
  const int64_t in = w.cols, out = w.rows;
  Buffers& b = buffers();
  int8_t* qx = sized(b.q, m * in);
  float* sx = sized(b.s, m);
  quantize_rows_s8(x, m, in, nullptr, qx, sx);
  const float* sw = w.scale.data();
  int8_forward_product_blocks(qx, m, w, [&](int64_t j0, int64_t nb, const int32_t* acc) {
    for (int64_t i = 0; i < m; ++i) {
      const float si = sx[i];
      const int32_t* ai = acc + i * nb;
      float* yi = y + i * out + j0;
      for (int64_t j = 0; j < nb; ++j) yi[j] = static_cast<float>(ai[j]) * si * sw[j0 + j];
    }
  });
}

void int8_linear_backward(const float* delta, int64_t m, const Int8Weight& w, float* dx) {
  const int64_t in = w.cols, out = w.rows;
  Buffers& b = buffers();
  int8_t* qd = sized(b.q, m * out);
  float* sd = sized(b.s, m);
  quantize_rows_s8(delta, m, out, w.scale.data(), qd, sd);
  int8_backward_product_blocks(qd, m, w, [&](int64_t j0, int64_t nb, const int32_t* acc) {
    for (int64_t i = 0; i < m; ++i) {
      const float si = sd[i];
      const int32_t* ai = acc + i * nb;
      float* di = dx + i * in + j0;
      for (int64_t j = 0; j < nb; ++j) di[j] = static_cast<float>(ai[j]) * si;
    }
  });
}

}  // namespace fedlora::lora
