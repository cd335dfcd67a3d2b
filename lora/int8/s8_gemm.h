#pragma once
// C = A · B over int8 with int32 accumulation: the integer core of the int8 base products
// (int8_linear.h). Backends, chosen when the library is built and at run time:
//   - x86-64 with oneDNN (FEDLORA_INT8_ONEDNN): dnnl::matmul s8×s8→s32, which picks
//     AVX-512 VNNI / AVX2 kernels itself;
//   - aarch64: our NEON kernel with SDOT (Armv8.2 dotprod, `vdotq_s32`) when the CPU has it
//     (HWCAP_ASIMDDP), else NEON widening multiply-accumulate;
//   - anything else: the scalar reference.
// Torch-free; the aarch64 kernels cross-build and run under qemu (scripts/test-arm.sh).
#include <cstdint>

namespace fedlora::lora {

/// C[m, n] = Σ_k A[m, k] · B[k, n], exactly in int32 (|Σ| < 2^31 is the caller's: with
/// operands in [−127, 127], k < 133,000). A: int8 [m, k] row-major; B: int8 [k, n] row-major,
/// or stored as [n, k] row-major when b_is_nk (Bᵀ's rows are B's columns); C: int32 [m, n].
/// Throws std::invalid_argument on a negative dimension, std::runtime_error if oneDNN fails.
void gemm_s8s8s32(const int8_t* a, const int8_t* b, int32_t* c, int64_t m, int64_t k, int64_t n, bool b_is_nk);

/// The same product by the plain triple loop (the tests' reference).
void gemm_s8s8s32_ref(const int8_t* a, const int8_t* b, int32_t* c, int64_t m, int64_t k, int64_t n, bool b_is_nk);

/// Which backend gemm_s8s8s32 uses on this machine: "onednn", "neon-sdot", "neon" or "scalar".
const char* s8_gemm_backend();

}  // namespace fedlora::lora
