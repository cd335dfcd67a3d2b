#include "lora/model/frozen_ops.h"

#include <torch/csrc/autograd/custom_function.h>
#include <ATen/record_function.h>

#include <algorithm>
#include <optional>
#include <stdexcept>
#include <vector>

#include "lora/model/bf16_gemm.h"
#include "lora/model/blas.h"
#include "lora/model/int8_products.h"

namespace fedlora::lora {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::tensor_list;

// This thread's dequantization buffer and the weight it currently holds. The copy of the
// QuantizedTensor shares (and so keeps alive) the immutable bytes, so a later weight can
// never reuse their address while the cached values are considered valid.
struct Scratch {
  std::vector<float> buf;
  std::optional<QuantizedTensor> held;
  bool holds(const QuantizedTensor& w) const {
    return held && held->bytes().data() == w.bytes().data() && held->bytes().size() == w.bytes().size() &&
           held->type() == w.type() && held->rows() == w.rows() && held->cols() == w.cols();
  }
};

Scratch& scratch() {
  thread_local Scratch s;
  return s;
}

struct FrozenLinearFn : torch::autograd::Function<FrozenLinearFn> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x, const QuantizedTensor* w, int64_t gemm,
                            int64_t backward_gemm, int64_t backward_float) {
    RECORD_USER_SCOPE("fedlora::frozen_linear_forward");
    ctx->saved_data["w"] = reinterpret_cast<int64_t>(w);
    ctx->saved_data["gemm"] = backward_gemm;
    ctx->saved_data["float"] = backward_float;
    const int64_t in = w->cols(), out = w->rows();
    auto shape = x.sizes().vec();
    auto x2 = x.reshape({-1, in}).contiguous();
    auto y = at::empty({x2.size(0), out}, at::kFloat);
    shape.back() = out;
    if (gemm == static_cast<int64_t>(BaseGemm::int8)) {
      int8_forward_profiled(x2.data_ptr<float>(), x2.size(0), *w, y.data_ptr<float>());
      return y.view(shape);
    }
    auto wv = dequantized_view(*w);
    sgemm_rowmajor(false, true, x2.size(0), out, in, 1.0f, x2.data_ptr<float>(), in, wv.data_ptr<float>(), in, 0.0f,
                   y.data_ptr<float>(), out);
    return y.view(shape);
  }
  static tensor_list backward(AutogradContext* ctx, tensor_list grads) {
    RECORD_USER_SCOPE("fedlora::frozen_linear_backward");
    const auto* w = reinterpret_cast<const QuantizedTensor*>(ctx->saved_data["w"].toInt());
    const auto prec = static_cast<FloatProducts>(ctx->saved_data["float"].toInt());
    const int64_t in = w->cols(), out = w->rows();
    auto shape = grads[0].sizes().vec();
    auto g2 = grads[0].reshape({-1, out}).contiguous();
    auto dx = at::empty({g2.size(0), in}, at::kFloat);
    shape.back() = in;
    if (ctx->saved_data["gemm"].toInt() == static_cast<int64_t>(BaseGemm::int8)) {
      int8_backward_profiled(g2.data_ptr<float>(), g2.size(0), *w, dx.data_ptr<float>());
      return {dx.view(shape), at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor()};
    }
    if (w->type() == GgmlType::F32) {
      auto wv = dequantized_view(*w);
      float_gemm_rowmajor(prec, false, false, g2.size(0), in, out, 1.0f, g2.data_ptr<float>(), out,
                          wv.data_ptr<float>(), in, 0.0f, dx.data_ptr<float>(), in);
    } else {
      // dx = Σ over blocks of W's rows of δ[:, rows] · W[rows, :], each block dequantized
      // into a small buffer: no float32 copy of the whole weight (34 MB for a 1B-class
      // head) is held during backward.
      constexpr int64_t kRows = 256;
      thread_local std::vector<float> block;
      block.resize(static_cast<size_t>(std::min(kRows, out) * in));
      for (int64_t r0 = 0; r0 < out; r0 += kRows) {
        const int64_t r1 = std::min(out, r0 + kRows);
        w->dequantize_rows(r0, r1, block.data());
        float_gemm_rowmajor(prec, false, false, g2.size(0), in, r1 - r0, 1.0f, g2.data_ptr<float>() + r0, out,
                            block.data(), in, r0 == 0 ? 0.0f : 1.0f, dx.data_ptr<float>(), in);
      }
    }
    return {dx.view(shape), at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

}  // namespace

at::Tensor dequantized_view(const QuantizedTensor& w) {
  const int64_t rows = w.rows(), cols = w.cols();
  RECORD_USER_SCOPE("fedlora::dequantize");
  if (w.type() == GgmlType::F32) {
    // Read-only use: the tensor is never written through (no grad, no in-place ops).
    auto* p = const_cast<std::byte*>(w.bytes().data());
    return at::from_blob(p, {rows, cols}, at::kFloat);
  }
  Scratch& s = scratch();
  if (!s.holds(w)) {
    const size_t need = static_cast<size_t>(rows * cols);
    if (s.buf.size() < need) s.buf.resize(need);
    s.held.reset();  // invalid while being overwritten (dequantize_rows may throw)
    w.dequantize_rows(0, rows, s.buf.data());
    s.held.emplace(w);
  }
  return at::from_blob(s.buf.data(), {rows, cols}, at::kFloat);
}

at::Tensor frozen_linear(const at::Tensor& x, const QuantizedTensor& w, BaseGemm gemm) {
  return frozen_linear(x, w, gemm, gemm);
}

at::Tensor frozen_linear(const at::Tensor& x, const QuantizedTensor& w, BaseGemm forward_gemm, BaseGemm backward_gemm,
                         FloatProducts backward_float) {
  if (x.dim() < 1 || x.size(-1) != w.cols() || x.scalar_type() != at::kFloat)
    throw std::invalid_argument("frozen_linear: input must be float32 [..., " + std::to_string(w.cols()) +
                                "], got last dim " + std::to_string(x.dim() ? x.size(-1) : 0));
  return FrozenLinearFn::apply(x, &w, static_cast<int64_t>(forward_gemm), static_cast<int64_t>(backward_gemm),
                               static_cast<int64_t>(backward_float));
}

at::Tensor frozen_embedding(const at::Tensor& tokens, const QuantizedTensor& table) {
  auto flat = tokens.reshape({-1}).contiguous();
  const int64_t n = flat.size(0), dim = table.cols();
  auto out = at::empty({n, dim}, at::kFloat);
  const int64_t* ids = flat.data_ptr<int64_t>();
  float* dst = out.data_ptr<float>();
  for (int64_t i = 0; i < n; ++i) {
    if (ids[i] < 0 || ids[i] >= table.rows())
      throw std::invalid_argument("frozen_embedding: token id " + std::to_string(ids[i]) + " out of range");
    table.dequantize_rows(ids[i], ids[i] + 1, dst + i * dim);
  }
  auto shape = tokens.sizes().vec();
  shape.push_back(dim);
  return out.view(shape);
}

}  // namespace fedlora::lora
