#pragma once
// C = A · B over int8 with int32 accumulation: the integer core of the int8 base products
// (int8_linear.h). Backends, chosen when the library is built and at run time:
//   - x86-64 with oneDNN (FEDLORA_INT8_ONEDNN): dnnl::matmul s8×s8→s32, which picks
//     AVX-512 VNNI / AVX2 kernels itself;
//   - aarch64: our NEON kernel with SDOT (Armv8.2 dotprod, `vdotq_s32`) when the CPU has it
//     (HWCAP_ASIMDDP), else NEON widening multiply-accumulate;
//   - anything else: the scalar reference.
// Torch-free; the aarch64 kernels cross-build and run under qemu (scripts/test-arm.sh).
#include <cstddef>
#include <cstdint>
#include <memory>

namespace fedlora::lora {

/// C[m, n] = Σ_k A[m, k] · B[k, n], exactly in int32 (|Σ| < 2^31 is the caller's: with
/// operands in [−127, 127], k < 133,000). A: int8 [m, k] row-major; B: int8 [k, n] row-major,
/// or stored as [n, k] row-major when b_is_nk (Bᵀ's rows are B's columns); C: int32 [m, n].
/// Throws std::invalid_argument on a negative dimension, std::runtime_error if oneDNN fails.
void gemm_s8s8s32(const int8_t* a, const int8_t* b, int32_t* c, int64_t m, int64_t k, int64_t n, bool b_is_nk);

/// The same product by the plain triple loop (the tests' reference).
void gemm_s8s8s32_ref(const int8_t* a, const int8_t* b, int32_t* c, int64_t m, int64_t k, int64_t n, bool b_is_nk);

/// B [k, n] copied once into the backend's own layout for products with it, so that each
/// product skips re-packing B: oneDNN's blocked weights format with the s8 source's
/// compensation (−128·column sums) precomputed. Measured on the 2-core EPYC VM at m = 512,
/// k × n = 2048 × 5632 with B cold in memory: 375 → 431 GOP/s (B as [k, n]) and 396 → 434
/// (B as [n, k]). Empty where the backend has no such layout (aarch64, scalar): use
/// gemm_s8s8s32 there. Cheap to copy (shared, immutable).
class PackedS8Matrix {
 public:
  /// B is packed as column panels of this many columns (the last may be narrower), each its
  /// own packed matrix, so that a product can be taken panel by panel and each int32 block
  /// [m, ≤ 256] consumed while it is in L2 (gemm_s8s8s32_packed_panel). Measured on the
  /// 2-core EPYC VM, m = 512, k × n = 2048 × 5632, product plus a float rescale: 30.1 ms
  /// whole, 28.9 ms in panels of 256; the panel products alone run at the same rate.
  static constexpr int64_t kPanelCols = 256;
  bool empty() const { return impl_ == nullptr; }
  int64_t k() const { return k_; }
  int64_t n() const { return n_; }
  int64_t panels() const { return empty() ? 0 : (n_ + kPanelCols - 1) / kPanelCols; }
  /// Columns of panel p: kPanelCols, or what is left for the last.
  int64_t panel_cols(int64_t p) const { return p + 1 < panels() ? kPanelCols : n_ - p * kPanelCols; }
  /// Bytes the packed copy holds (padding and compensation included); 0 when empty.
  std::size_t bytes() const { return bytes_; }

 private:
  friend PackedS8Matrix pack_s8_matrix(const int8_t* b, int64_t k, int64_t n, bool b_is_nk);
  friend void gemm_s8s8s32_packed_panel(const int8_t* a, const PackedS8Matrix& b, int64_t panel, int32_t* c,
                                        int64_t ldc, int64_t m);
  std::shared_ptr<const void> impl_;
  int64_t k_ = 0, n_ = 0;
  std::size_t bytes_ = 0;
};

/// B (layout as in gemm_s8s8s32) packed for gemm_s8s8s32_packed; empty if the backend has no
/// packed layout or k or n is 0. Throws std::invalid_argument on a negative dimension,
/// std::runtime_error if oneDNN fails.
PackedS8Matrix pack_s8_matrix(const int8_t* b, int64_t k, int64_t n, bool b_is_nk);

/// Bytes pack_s8_matrix would hold for a [k, n] B (0 where it would return empty), without
/// packing anything.
std::size_t packed_s8_matrix_bytes(int64_t k, int64_t n, bool b_is_nk);

/// C[m, n] = A[m, k] · B, exactly as gemm_s8s8s32, with B packed. Throws
/// std::invalid_argument if b is empty or m < 0, std::runtime_error if oneDNN fails.
void gemm_s8s8s32_packed(const int8_t* a, const PackedS8Matrix& b, int32_t* c, int64_t m);

/// Columns [p·kPanelCols, + panel_cols(p)) of A · B: C [m, panel_cols(p)] with row stride ldc
/// (≥ panel_cols(p)). Keep ldc = panel_cols(p) where speed matters: with a wider stride
/// oneDNN 2.6 takes its reference kernel (over 3,000× slower, measured on the 2-core VM).
/// Throws std::invalid_argument if b is empty, p is not a panel of b,
/// m < 0 or ldc is too short, std::runtime_error if oneDNN fails.
void gemm_s8s8s32_packed_panel(const int8_t* a, const PackedS8Matrix& b, int64_t panel, int32_t* c, int64_t ldc,
                               int64_t m);

/// Which backend gemm_s8s8s32 uses on this machine: "onednn", "neon-sdot", "neon" or "scalar".
const char* s8_gemm_backend();

}  // namespace fedlora::lora
