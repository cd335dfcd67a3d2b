// Prints which quant kernels and which int8 GEMM the fast entry points use on this machine/emulator:
// "neon" on aarch64, "avx2+f16c" or "scalar" on x86. Used by scripts/test-arm.sh.
#include <cstdio>
#include <string>

#include "lora/int8/s8_gemm.h"
#include "lora/quant/simd.h"

int main() {
  const std::string path(fedlora::lora::quant_kernel_path());
  std::printf("quant kernel path: %s\n", path.c_str());
  std::printf("int8 GEMM backend: %s\n", fedlora::lora::s8_gemm_backend());
  return 0;
}
