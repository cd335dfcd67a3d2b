#pragma once
// LibTorch's CPU tensors from the malloc heap, so that freed activation buffers are reused.

namespace fedlora::lora {

/// Makes LibTorch allocate CPU tensor storage with malloc (64-byte aligned by hand) instead
/// of its default posix_memalign. Why: glibc 2.36 does not reuse freed posix_memalign blocks
/// of a few MB for the next request of the same size; the heap grows and every training step
/// writes its activations into fresh pages, each a page fault with a zero-fill. Measured on
/// the 2-core EPYC VM: six 11.5 MB blocks allocated, written and freed in a loop take 17,664
/// page faults per iteration with posix_memalign (mallopt thresholds raised or not) and none
/// with malloc. Tensors allocated before the call keep their own deleter, so it is safe at
/// any time; it affects the whole process. Call once at start-up, after
/// keep_freed_memory_in_heap's mallopt (runtime.h), which this relies on for blocks above
/// glibc's default 128 KiB mmap threshold. Idempotent. With FEDLORA_JUNK_FILL_TENSORS set
/// in the environment, every new tensor's bytes are 0xFF (NaN as float32), so that a kernel
/// reading memory it never wrote shows up in the results (reused blocks, unlike fresh pages,
/// are not zero). An allocation that malloc cannot serve throws std::bad_alloc, as LibTorch's
/// own allocator does (c10::alloc_cpu).
void use_heap_tensor_allocator();

}  // namespace fedlora::lora
