#!/usr/bin/env bash
# Configures and builds fedlora into build/ (binaries in build/bin/), or into $BUILD_DIR.
# Extra arguments go to cmake's configure step, e.g. -DFEDLORA_BUILD_BENCH=OFF.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${BUILD_DIR:-build}
cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=${BUILD_TYPE:-Release} "$@" >/dev/null
cmake --build "$dir" -j"$(nproc)"
