#pragma once
// Process-wide compute settings for LibTorch + OpenBLAS (see docs/build.md "Threads").

namespace fedlora::lora {

/// Sets the calling thread's intra-op threads (at::set_num_threads) and OpenBLAS's thread
/// count (openblas_set_num_threads, found at run time with dlsym: Debian ships no
/// libopenblas.so link name). A fleet runs one device per core with `threads` = 1 on every
/// worker; a single trainer uses all cores. Returns false if OpenBLAS was not found (the
/// BLAS then manages its own threads), true otherwise.
bool set_compute_threads(int threads);

/// OpenBLAS 0.3.21 (Debian 12) does not know recent Intel Xeons (e.g. Sapphire Rapids VMs
/// reporting "Intel(R) Xeon(R) Processor") and falls back to its SSE3 "Prescott" kernels,
/// which made a training round 4× slower on this project's machines. OpenBLAS picks its
/// kernels when the library loads, before main(), and only reads OPENBLAS_CORETYPE then. So:
/// if OpenBLAS runs the Prescott fallback, OPENBLAS_CORETYPE is unset, and the CPU has
/// AVX-512 (BF16) or AVX2+FMA, this sets OPENBLAS_CORETYPE to Cooperlake / SkylakeX /
/// Haswell and re-executes the program (/proc/self/exe) with the same argv. Returns only if
/// nothing needed to change (or re-exec failed, which it reports on stderr). Call first in
/// main(). Setting OPENBLAS_CORETYPE yourself disables it.
void ensure_fast_blas_kernels(char** argv);

/// Makes processes this one spawns run the same OpenBLAS kernels as it does: if
/// OPENBLAS_CORETYPE is unset, sets it (in this process's environment, which only children
/// read) to the core OpenBLAS chose here. Otherwise a child's ensure_fast_blas_kernels could
/// pick other kernels and a multi-process run would round differently from an in-process one.
void pin_blas_kernels_for_children();

/// Keeps freed large buffers in the heap instead of returning them to the OS (glibc
/// M_MMAP_THRESHOLD / M_TRIM_THRESHOLD), and has LibTorch allocate its tensors from that heap
/// (heap_allocator.h: its default posix_memalign blocks are never reused). Training allocates
/// the same multi-MB activation buffers every step; on this VM each fresh page costs a fault
/// (a 16 MB zero-fill measured ~100 ms with mmap'd allocations vs ~9 ms reused; a 1.1B-class
/// int8 step 6.8 → 6.1 s). Freed memory stays resident up to the process's peak. Call once
/// at start-up, before training.
void keep_freed_memory_in_heap();

/// Peak resident set size of this process in bytes (getrusage ru_maxrss).
long peak_rss_bytes();

/// Resets the kernel's peak-RSS mark of this process (VmHWM) to its current RSS, by writing
/// "5" to /proc/self/clear_refs (proc(5), Linux >= 4.0). Returns false where that is not
/// possible; resident_peak_since_reset() then reports the peak since process start.
bool reset_resident_peak();

/// VmHWM of /proc/self/status in bytes: the peak RSS since the last reset_resident_peak()
/// (or since start). -1 if /proc is unavailable. Covers the whole process: with several
/// devices training on threads of one process, it is their joint peak.
long resident_peak_since_reset();

/// VmRSS of /proc/self/status in bytes (the current resident set); -1 without /proc.
long resident_now();

}  // namespace fedlora::lora
