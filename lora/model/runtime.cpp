#include "lora/model/runtime.h"

#include <ATen/Parallel.h>
#include <dlfcn.h>
#include <malloc.h>
#include <sys/resource.h>

namespace fedlora::lora {

bool set_compute_threads(int threads) {
  if (threads < 1) threads = 1;
  at::set_num_threads(threads);
  using SetThreads = void (*)(int);
  auto fn = reinterpret_cast<SetThreads>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"));
  if (fn == nullptr) return false;
  fn(threads);
  return true;
}

void keep_freed_memory_in_heap() {
  mallopt(M_MMAP_THRESHOLD, 32 << 20);  // glibc maximum on 64-bit
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
}

long peak_rss_bytes() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss * 1024L;
}

}  // namespace fedlora::lora
