#include "lora/model/fused_kernels.h"
#include "lora/model/kernels_simd.h"

namespace fedlora::lora::kernels {
namespace {

bool cpu_has_avx2_fma() {
  static const bool ok = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return ok;
}
bool g_simd = true;

}  // namespace

namespace detail {
bool simd_path() { return g_simd && cpu_has_avx2_fma(); }
bool avx512_path() {
  static const bool has = __builtin_cpu_supports("avx512f");
  return has && simd_path();
}
}  // namespace detail

bool simd_enabled() { return detail::simd_path(); }
void set_simd(bool enabled) { g_simd = enabled; }

}  // namespace fedlora::lora::kernels
