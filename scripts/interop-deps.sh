#!/usr/bin/env bash
# A real llama.cpp for tests/interop: node-llama-cpp's prebuilt CPU binaries from the npm
# registry, installed into BUILD_DIR/interop (default build/interop). Needs Node.js >= 20 and
# npm; without them it says so and the interop test skips itself with the same message.
set -euo pipefail
cd "$(dirname "$0")/.."
dest="${BUILD_DIR:-build}/interop"
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "interop-deps: node/npm not found: the llama.cpp interop test will be skipped" >&2
  exit 0
fi
major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$major" -lt 20 ]; then
  echo "interop-deps: node $(node --version) < 20 (node-llama-cpp needs 20): the interop test will be skipped" >&2
  exit 0
fi
mkdir -p "$dest"
cp tests/interop/package.json "$dest/"
if [ ! -d "$dest/node_modules/@node-llama-cpp/linux-x64" ]; then
  # --ignore-scripts: no build or download step; the prebuilt linux-x64 package carries the binaries.
  if ! (cd "$dest" && npm install --ignore-scripts --omit=optional --no-audit --no-fund --no-package-lock >/dev/null); then
    echo "interop-deps: npm install of node-llama-cpp FAILED: the llama.cpp interop test will be skipped" >&2
    exit 0
  fi
fi
echo "interop-deps: node-llama-cpp in $dest/node_modules"
