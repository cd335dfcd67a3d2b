#include "lora/export/rope_rows.h"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace fedlora::lora {
namespace {

void check(std::span<const float> w, int64_t rows, int64_t cols, int64_t n_head, const char* fn) {
  if (n_head <= 0 || rows % (2 * n_head) != 0 || static_cast<int64_t>(w.size()) != rows * cols)
    throw std::invalid_argument(std::string(fn) + ": rows " + std::to_string(rows) + " is not a multiple of 2 x " +
                                std::to_string(n_head) + " heads, or the size is not rows x cols");
}

// GGUF row (h, 2i+j) <-> HF row (h, j·half+i).
template <bool kToGguf>
std::vector<float> move_rows(std::span<const float> w, int64_t rows, int64_t cols, int64_t n_head) {
  const int64_t hd = rows / n_head, half = hd / 2;
  std::vector<float> out(w.size());
  for (int64_t h = 0; h < n_head; ++h)
    for (int64_t i = 0; i < half; ++i)
      for (int64_t j = 0; j < 2; ++j) {
        const int64_t hf = h * hd + j * half + i, gg = h * hd + 2 * i + j;
        const float* src = w.data() + (kToGguf ? hf : gg) * cols;
        std::copy(src, src + cols, out.data() + (kToGguf ? gg : hf) * cols);
      }
  return out;
}

}  // namespace

std::vector<float> permute_rope_rows(std::span<const float> w, int64_t rows, int64_t cols, int64_t n_head) {
  check(w, rows, cols, n_head, "permute_rope_rows");
  return move_rows<true>(w, rows, cols, n_head);
}

std::vector<float> unpermute_rope_rows(std::span<const float> w, int64_t rows, int64_t cols, int64_t n_head) {
  check(w, rows, cols, n_head, "unpermute_rope_rows");
  return move_rows<false>(w, rows, cols, n_head);
}

void convert_qk_rows(const AdapterLayout& layout, std::span<float> flat, int64_t n_heads, int64_t n_kv_heads,
                     QkRowOrder from, QkRowOrder to) {
  layout.check_size(flat);
  if (from == to) return;
  for (const auto& t : layout.tensors()) {
    if (!t.is_b || (t.module != TargetModule::q && t.module != TargetModule::k)) continue;
    const int64_t heads = t.module == TargetModule::q ? n_heads : n_kv_heads;
    std::span<float> b = flat.subspan(static_cast<size_t>(t.offset), static_cast<size_t>(t.numel()));
    auto moved = to == QkRowOrder::gguf ? permute_rope_rows(b, t.rows, t.cols, heads)
                                        : unpermute_rope_rows(b, t.rows, t.cols, heads);
    std::copy(moved.begin(), moved.end(), b.begin());
  }
}

}  // namespace fedlora::lora
