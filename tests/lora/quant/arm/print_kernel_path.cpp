// Prints which quant kernels the fast entry points use on this machine/emulator:
// "neon" on aarch64, "avx2+f16c" or "scalar" on x86. Used by scripts/test-arm.sh.
#include <cstdio>
#include <string>

#include "lora/quant/simd.h"

int main() {
  const std::string path(fedlora::lora::quant_kernel_path());
  std::printf("quant kernel path: %s\n", path.c_str());
  return 0;
}
