#!/usr/bin/env bash
# Configures and builds fedlora into build/ (binaries in build/bin/). Extra arguments go to
# cmake's configure step, e.g. -DFEDLORA_BUILD_BENCH=OFF.
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null
cmake --build build -j"$(nproc)"
