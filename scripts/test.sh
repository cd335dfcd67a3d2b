#!/usr/bin/env bash
# The test suite: installs dependencies (Debian 12 packages), builds with tests, and runs
# every ctest suite except those labelled `slow`. Extra arguments go to ctest
# (e.g. -L slow to run only the slow suites, -R secagg to filter).
#   --sanitize   build into build-asan with AddressSanitizer + UndefinedBehaviorSanitizer
#                and run the same suites there; any report fails the run.
#   --tsan       build the suites labelled `tsan` (worker pool, privacy ledger under
#                concurrent spending) and the SecAgg protocol suite with ThreadSanitizer
#                into build-tsan, and run them.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/data-dir.sh  # FEDLORA_DATA_DIR for the suites that read the corpora
sanitize=0
if [ "${1:-}" = "--sanitize" ]; then sanitize=1; shift; fi
if [ "${1:-}" = "--tsan" ]; then
  shift
  ./scripts/install-deps.sh
  flags="-fsanitize=thread -fno-omit-frame-pointer"
  suites=(privacy_ledger_concurrency_test simulator_worker_pool_test secagg_protocol_test)
  cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=Sanitize -DFEDLORA_BUILD_TESTS=ON -DFEDLORA_BUILD_BENCH=OFF \
    "-DCMAKE_CXX_FLAGS_SANITIZE=-O1 -g1" "-DCMAKE_C_FLAGS_SANITIZE=-O1 -g1" "-DCMAKE_CXX_FLAGS=$flags" \
    "-DCMAKE_C_FLAGS=$flags" "-DCMAKE_EXE_LINKER_FLAGS=-fsanitize=thread" >/dev/null
  cmake --build build-tsan -j"$(nproc)" --target "${suites[@]}"
  cd build-tsan
  export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1}
  exec ctest --output-on-failure -j2 -R "^($(IFS='|'; echo "${suites[*]}"))\$" "$@"
fi
./scripts/install-deps.sh
if [ "$sanitize" = 1 ]; then
  flags="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
  # Build type "Sanitize": -O1 with line tables only, about half the compile time of
  # RelWithDebInfo, and reports still name file:line.
  BUILD_DIR=${BUILD_DIR:-build-asan} BUILD_TYPE=Sanitize ./scripts/build.sh -DFEDLORA_BUILD_TESTS=ON \
    -DFEDLORA_BUILD_BENCH=OFF "-DCMAKE_CXX_FLAGS_SANITIZE=-O1 -g1" "-DCMAKE_C_FLAGS_SANITIZE=-O1 -g1" \
    "-DCMAKE_CXX_FLAGS=$flags" "-DCMAKE_C_FLAGS=$flags" "-DCMAKE_EXE_LINKER_FLAGS=-fsanitize=address,undefined" \
    "-DCMAKE_SHARED_LINKER_FLAGS=-fsanitize=address,undefined"
  cd "${BUILD_DIR:-build-asan}"
  # LibTorch and OpenBLAS are not instrumented; their one-time allocations at exit are not ours.
  export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:abort_on_error=1}
  export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
else
  ./scripts/build.sh -DFEDLORA_BUILD_TESTS=ON -DFEDLORA_BUILD_BENCH=OFF
  ./scripts/interop-deps.sh  # a real llama.cpp (npm) for the interop test
  cd build
fi
if [ "$#" -eq 0 ]; then set -- -LE slow; fi
exec ctest --output-on-failure -j2 "$@"
