#include "lora/int8/int8_linear.h"

#include <algorithm>
#include <iterator>
#include <list>
#include <optional>
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
  std::size_t bytes() const { return int8_weight_bytes(w.rows, w.cols); }
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

void requantize(const QuantizedTensor& w, Int8Weight& out) {
  const int64_t rows = w.rows(), cols = w.cols();
  out.rows = rows;
  out.cols = cols;
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
  const std::size_t need = int8_weight_bytes(w.rows(), w.cols());
  std::list<CachedWeight> spare;
  while (!c.entries.empty() && c.held + need > c.capacity) {
    c.held -= c.entries.back().bytes();
    spare.clear();
    spare.splice(spare.begin(), c.entries, std::prev(c.entries.end()));
  }
  if (spare.empty()) spare.emplace_back();
  CachedWeight& e = spare.front();
  e.held.reset();
  requantize(w, e.w);
  e.held.emplace(w);
  c.entries.splice(c.entries.begin(), spare, spare.begin());
  c.held += c.entries.front().bytes();
  return c.entries.front().w;
}

void int8_linear_forward(const float* x, int64_t m, const Int8Weight& w, float* y) {
  const int64_t in = w.cols, out = w.rows;
  Buffers& b = buffers();
  int8_t* qx = sized(b.q, m * in);
  float* sx = sized(b.s, m);
  quantize_rows_s8(x, m, in, nullptr, qx, sx);
  int32_t* acc = sized(b.acc, m * out);
  gemm_s8s8s32(qx, w.q.data(), acc, m, in, out, /*b_is_nk=*/true);
  const float* sw = w.scale.data();
  for (int64_t i = 0; i < m; ++i) {
    const float si = sx[i];
    const int32_t* ai = acc + i * out;
    float* yi = y + i * out;
    for (int64_t j = 0; j < out; ++j) yi[j] = static_cast<float>(ai[j]) * si * sw[j];
  }
}

void int8_linear_backward(const float* delta, int64_t m, const Int8Weight& w, float* dx) {
  const int64_t in = w.cols, out = w.rows;
  Buffers& b = buffers();
  int8_t* qd = sized(b.q, m * out);
  float* sd = sized(b.s, m);
  quantize_rows_s8(delta, m, out, w.scale.data(), qd, sd);
  int32_t* acc = sized(b.acc, m * in);
  gemm_s8s8s32(qd, w.q.data(), acc, m, out, in, /*b_is_nk=*/false);
  for (int64_t i = 0; i < m; ++i) {
    const float si = sd[i];
    const int32_t* ai = acc + i * in;
    float* di = dx + i * in;
    for (int64_t j = 0; j < in; ++j) di[j] = static_cast<float>(ai[j]) * si;
  }
}

}  // namespace fedlora::lora
