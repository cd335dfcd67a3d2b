#!/usr/bin/env bash
# The test suite: installs dependencies (Debian 12 packages), builds with tests, and runs
# every ctest suite except those labelled `slow`. Extra arguments go to ctest
# (e.g. -L slow to run only the slow suites, -R secagg to filter).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
./scripts/build.sh -DFEDLORA_BUILD_TESTS=ON -DFEDLORA_BUILD_BENCH=OFF
cd build
if [ "$#" -eq 0 ]; then set -- -LE slow; fi
exec ctest --output-on-failure -j2 "$@"
