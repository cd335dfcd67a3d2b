#!/usr/bin/env bash
# The "checked" build shared by `scripts/test.sh --sanitize` and `scripts/fuzz.sh`: clang-14,
# every library with AddressSanitizer + UndefinedBehaviorSanitizer (UB aborts) and libFuzzer
# coverage, -O1 with line tables. One tree holds both the GoogleTest suites and the libFuzzer
# binaries, so CI compiles the project under sanitizers once, not twice.
#   scripts/checked-build.sh [TARGET...]   configure if needed, build TARGETs (default: all)
# Installs clang-14 and its runtime from Debian if absent. BUILD_CHECKED_DIR overrides the
# directory (default build-asan).
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${BUILD_CHECKED_DIR:-build-asan}
./scripts/install-deps.sh
missing=()
for p in clang-14 libclang-rt-14-dev; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  echo "checked-build: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
# A tree configured otherwise (an older gcc ASan build) is started afresh.
if [ -f "$dir/CMakeCache.txt" ] && ! grep -q '^FEDLORA_BUILD_FUZZ:BOOL=ON' "$dir/CMakeCache.txt"; then
  echo "checked-build: $dir is not a checked build; reconfiguring from scratch"
  rm -rf "$dir"
fi
CC=clang-14 CXX=clang++-14 cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Sanitize \
  "-DCMAKE_CXX_FLAGS_SANITIZE=-O1 -gline-tables-only" "-DCMAKE_C_FLAGS_SANITIZE=-O1 -gline-tables-only" \
  -DFEDLORA_BUILD_FUZZ=ON -DFEDLORA_BUILD_TESTS=ON -DFEDLORA_BUILD_BENCH=OFF >/dev/null
if [ "$#" -gt 0 ]; then
  cmake --build "$dir" -j"$(nproc)" --target "$@"
else
  cmake --build "$dir" -j"$(nproc)"
fi
