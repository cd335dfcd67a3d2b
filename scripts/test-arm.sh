#!/usr/bin/env bash
# Cross-compiles the torch-free kernel libraries (lora/quant, lora/int8) and their GoogleTest suites for
# aarch64 and runs them under qemu-aarch64-static. Only that library is built (standalone
# project tests/lora/quant/arm), so LibTorch, gRPC etc. are not needed. Build dir: build-arm
# (or $BUILD_DIR). Exits non-zero if anything fails. docs/arm.md describes what is covered.
#   --slow   also run lora_quant_fp16_exhaustive_test (all 2^32 floats; ~3 min under qemu)
# Other arguments go to the gtest binary, e.g. --gtest_filter='Q4_0.*'.
# The build tree is also a normal ctest tree: ctest --test-dir build-arm -LE slow.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
slow=0
if [ "${1:-}" = "--slow" ]; then slow=1; shift; fi
dir=${BUILD_DIR:-build-arm}

# g++-aarch64-linux-gnu: cross compiler + aarch64 libc/libstdc++ in /usr/aarch64-linux-gnu;
# qemu-user-static: runs the aarch64 binaries here; googletest: gtest sources (built for
# aarch64 inside the build tree, the system libgtest being x86-only).
PACKAGES=(g++-aarch64-linux-gnu qemu-user-static googletest cmake make)
missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  echo "test-arm: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

cmake -S tests/lora/quant/arm -B "$dir" -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_TOOLCHAIN_FILE="$root/cmake/aarch64-toolchain.cmake" >/dev/null
cmake --build "$dir" -j"$(nproc)"

qemu=(qemu-aarch64-static -L /usr/aarch64-linux-gnu)
"${qemu[@]}" "$dir/bin/quant_kernel_path"
if command -v file >/dev/null; then file "$dir/tests/lora_quant_test" | sed 's/, .*//; s/^/test-arm: /'; fi

run() {
  local start rc=0
  start=$(date +%s)
  "${qemu[@]}" "$@" --gtest_brief=1 || rc=$?
  echo "test-arm: $(basename "$1") under qemu: exit $rc, $(( $(date +%s) - start ))s wall"
  return $rc
}
rc=0
run "$dir/tests/lora_quant_test" "$@" || rc=1
run "$dir/tests/lora_int8_test" "$@" || rc=1
# Again on a CPU without dotprod (Cortex-A53): the int8 GEMM's plain NEON kernel.
qemu=(qemu-aarch64-static -cpu cortex-a53 -L /usr/aarch64-linux-gnu)
"${qemu[@]}" "$dir/bin/quant_kernel_path" | sed 's/^/cortex-a53: /'
run "$dir/tests/lora_int8_test" "$@" || rc=1
if [ "$slow" = 1 ]; then run "$dir/tests/lora_quant_fp16_exhaustive_test" "$@" || rc=1; fi
exit $rc
