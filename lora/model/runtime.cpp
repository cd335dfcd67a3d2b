#include "lora/model/runtime.h"

#include "lora/model/heap_allocator.h"

#include <ATen/Parallel.h>
#include <dlfcn.h>
#include <malloc.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace fedlora::lora {

bool set_compute_threads(int threads) {
  if (threads < 1) threads = 1;
  at::set_num_threads(threads);
  using SetThreads = void (*)(int);
  // oneDNN (int8 products) runs on libgomp like LibTorch; set this thread's OpenMP team
  // size explicitly (at::set_num_threads does not reach it for every caller).
  if (auto omp = reinterpret_cast<SetThreads>(dlsym(RTLD_DEFAULT, "omp_set_num_threads"))) omp(threads);
  auto fn = reinterpret_cast<SetThreads>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"));
  if (fn == nullptr) return false;
  fn(threads);
  return true;
}

namespace {
const char* best_openblas_core() {
  __builtin_cpu_init();
  const bool avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                      __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
  if (avx512 && __builtin_cpu_supports("avx512bf16")) return "Cooperlake";
  if (avx512) return "SkylakeX";
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "Haswell";
  return nullptr;
}
}  // namespace

void ensure_fast_blas_kernels(char** argv) {
  if (std::getenv("OPENBLAS_CORETYPE") != nullptr) return;  // the user (or our re-exec) chose
  using CoreName = char* (*)();
  auto fn = reinterpret_cast<CoreName>(dlsym(RTLD_DEFAULT, "openblas_get_corename"));
  if (fn == nullptr) return;
  const char* current = fn();
  if (current == nullptr || std::strcmp(current, "Prescott") != 0) return;
  const char* core = best_openblas_core();
  if (core == nullptr) return;
  setenv("OPENBLAS_CORETYPE", core, 1);
  execv("/proc/self/exe", argv);
  std::fprintf(stderr, "warning: could not re-execute with OPENBLAS_CORETYPE=%s (%s); BLAS runs its slow fallback\n",
               core, std::strerror(errno));
}

void pin_blas_kernels_for_children() {
  if (std::getenv("OPENBLAS_CORETYPE") != nullptr) return;
  using CoreName = char* (*)();
  auto fn = reinterpret_cast<CoreName>(dlsym(RTLD_DEFAULT, "openblas_get_corename"));
  if (fn == nullptr) return;
  const char* current = fn();
  if (current != nullptr && *current != '\0') setenv("OPENBLAS_CORETYPE", current, 1);
}

void keep_freed_memory_in_heap() {
  mallopt(M_MMAP_THRESHOLD, 32 << 20);  // glibc maximum on 64-bit
  mallopt(M_TRIM_THRESHOLD, INT_MAX);
  use_heap_tensor_allocator();  // LibTorch's posix_memalign blocks are not reused otherwise
}

long peak_rss_bytes() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss * 1024L;
}

bool reset_resident_peak() {
  FILE* f = std::fopen("/proc/self/clear_refs", "w");
  if (f == nullptr) return false;
  const bool ok = std::fputs("5", f) >= 0;
  return std::fclose(f) == 0 && ok;
}

namespace {

// A "Key:   123 kB" line of /proc/self/status, in bytes; -1 if absent.
long proc_status_bytes(const char* key) {
  FILE* f = std::fopen("/proc/self/status", "r");
  if (f == nullptr) return -1;
  const size_t n = std::strlen(key);
  char line[256];
  long kb = -1;
  while (std::fgets(line, sizeof line, f) != nullptr)
    if (std::strncmp(line, key, n) == 0) kb = std::strtol(line + n, nullptr, 10);
  std::fclose(f);
  return kb < 0 ? -1 : kb * 1024;
}

}  // namespace

long resident_peak_since_reset() { return proc_status_bytes("VmHWM:"); }

long resident_now() { return proc_status_bytes("VmRSS:"); }

}  // namespace fedlora::lora
