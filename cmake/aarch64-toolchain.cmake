# Cross-compile for 64-bit ARM Linux (phones, Raspberry Pi 4/5, Graviton) from x86-64
# Debian 12 with g++-aarch64-linux-gnu; binaries run on the build machine under
# qemu-user-static (ctest and CMake's try_run prepend the emulator automatically).
#   cmake -S tests/lora/quant/arm -B build-arm -DCMAKE_TOOLCHAIN_FILE=$PWD/cmake/aarch64-toolchain.cmake
# scripts/test-arm.sh does this and runs the quant tests.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)

set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)

# The Debian cross packages install the aarch64 sysroot (libc, libstdc++) here.
set(FEDLORA_AARCH64_SYSROOT /usr/aarch64-linux-gnu)
set(CMAKE_FIND_ROOT_PATH ${FEDLORA_AARCH64_SYSROOT})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# -L: where qemu finds the aarch64 dynamic loader and shared libraries.
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-aarch64-static -L ${FEDLORA_AARCH64_SYSROOT})
