#include "lora/model/blas.h"

#include <ATen/ATen.h>
#include <dlfcn.h>

#include <limits>
#include <stdexcept>
#include <string>

namespace fedlora::lora {
namespace {

// Reference BLAS / OpenBLAS LP64 Fortran interface (column-major).
using SgemmFn = void (*)(const char* transa, const char* transb, const int* m, const int* n, const int* k,
                         const float* alpha, const float* a, const int* lda, const float* b, const int* ldb,
                         const float* beta, float* c, const int* ldc);

bool g_direct = true;

SgemmFn find_sgemm() {
  static const SgemmFn fn = reinterpret_cast<SgemmFn>(dlsym(RTLD_DEFAULT, "sgemm_"));
  return g_direct ? fn : nullptr;
}

int as_int(int64_t v, const char* what) {
  if (v < 0 || v > std::numeric_limits<int>::max())
    throw std::invalid_argument(std::string("sgemm_rowmajor: ") + what + " = " + std::to_string(v) +
                                " does not fit the BLAS's 32-bit integers");
  return static_cast<int>(v);
}

// op(X) as a [rows, cols] tensor view of row-major storage with row stride ld.
at::Tensor view_op(const float* p, bool trans, int64_t rows, int64_t cols, int64_t ld) {
  auto* q = const_cast<float*>(p);  // read-only use
  if (!trans) return at::from_blob(q, {rows, cols}, {ld, 1}, at::kFloat);
  return at::from_blob(q, {cols, rows}, {ld, 1}, at::kFloat).t();
}

}  // namespace

bool direct_blas_available() { return find_sgemm() != nullptr; }
void set_direct_blas(bool enabled) { g_direct = enabled; }

void sgemm_rowmajor(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
                    int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  if (m == 0 || n == 0) return;
  if (k == 0) {
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) c[i * ldc + j] = beta == 0.0f ? 0.0f : beta * c[i * ldc + j];
    return;
  }
  if (SgemmFn fn = find_sgemm()) {
    // Row-major C = op(A)·op(B) is column-major Cᵀ = op(B)ᵀ·op(A)ᵀ: swap the operands.
    const int im = as_int(m, "m"), in = as_int(n, "n"), ik = as_int(k, "k");
    const int ilda = as_int(lda, "lda"), ildb = as_int(ldb, "ldb"), ildc = as_int(ldc, "ldc");
    const char ta = trans_b ? 'T' : 'N', tb = trans_a ? 'T' : 'N';
    fn(&ta, &tb, &in, &im, &ik, &alpha, b, &ildb, a, &ilda, &beta, c, &ildc);
    return;
  }
  auto av = view_op(a, trans_a, m, k, lda), bv = view_op(b, trans_b, k, n, ldb);
  auto cv = at::from_blob(c, {m, n}, {ldc, 1}, at::kFloat);
  if (beta == 0.0f) {
    cv.copy_(at::mm(av, bv).mul_(alpha));
  } else {
    cv.addmm_(av, bv, beta, alpha);
  }
}

}  // namespace fedlora::lora
