#include "lora/model/heap_allocator.h"

#include <c10/core/CPUAllocator.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>

namespace fedlora::lora {
namespace {

constexpr std::uintptr_t kAlignment = 64;  // LibTorch's own CPU alignment (c10 gAlignment)

// The block malloc returned sits in the 8 bytes just below the aligned pointer: malloc's
// 16-byte alignment leaves at least 16 bytes of room.
void heap_free(void* aligned) {
  if (aligned != nullptr) std::free(static_cast<void**>(aligned)[-1]);
}

struct HeapAllocator final : c10::Allocator {
  bool junk_fill = false;
  c10::DataPtr allocate(size_t n) const override {
    if (n == 0) return {nullptr, nullptr, &heap_free, c10::Device(c10::DeviceType::CPU)};
    void* raw = std::malloc(n + kAlignment);
    if (raw == nullptr) throw std::bad_alloc();
    const auto at = (reinterpret_cast<std::uintptr_t>(raw) + kAlignment) & ~(kAlignment - 1);
    void* aligned = reinterpret_cast<void*>(at);
    static_cast<void**>(aligned)[-1] = raw;
    if (junk_fill) std::memset(aligned, 0xFF, n);  // NaN in every float: reads before writes show
    return {aligned, aligned, &heap_free, c10::Device(c10::DeviceType::CPU)};
  }
  c10::DeleterFnPtr raw_deleter() const override { return &heap_free; }
};

}  // namespace

void use_heap_tensor_allocator() {
  static HeapAllocator allocator;
  allocator.junk_fill = std::getenv("FEDLORA_JUNK_FILL_TENSORS") != nullptr;
  c10::SetCPUAllocator(&allocator, /*priority=*/1);
}

}  // namespace fedlora::lora
