// libFuzzer entry point for the target named by FEDLORA_FUZZ_TARGET (fuzz/targets/fuzz_targets.h).
#include "fuzz/targets/fuzz_targets.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fedlora::fuzz::FEDLORA_FUZZ_TARGET(data, size);
  return 0;
}
