#!/usr/bin/env bash
# The main job: installs dependencies (Debian 12 packages), builds, and runs the federated
# Shakespeare fine-tuning job with fedlora-sim. Extra arguments go to `fedlora-sim run`,
# e.g. --set federation.rounds=10 --name quick.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
./scripts/build.sh -DFEDLORA_BUILD_TESTS=OFF -DFEDLORA_BUILD_BENCH=OFF
source scripts/data-dir.sh
exec ./build/bin/fedlora-sim run configs/shakespeare.toml "$@"
