#!/usr/bin/env bash
# Runs libFuzzer targets (clang-14, -fsanitize=fuzzer,address,undefined) on their seed corpora.
#   scripts/fuzz.sh TARGET SECONDS   one target (the names are in fuzz/targets.txt)
#   scripts/fuzz.sh all SECONDS      every target, one after the other
# Configures build-fuzz (CC=clang-14, -DFEDLORA_BUILD_FUZZ=ON) if it is not yet a fuzz build,
# installs clang-14 from Debian if absent, and builds only the fuzz binaries it runs.
# New inputs found go to build-fuzz/corpus/TARGET (the committed seeds in fuzz/corpus stay as
# they are). Exits non-zero if any target finds a crash, leak, UB, timeout or OOM, printing
# the path of the input that triggers it: fix the bug, then keep the file in
# fuzz/regressions/TARGET/, where the default test run (fuzz_regression_test) replays it.
# BUILD_FUZZ_DIR overrides the build directory.
set -euo pipefail
# The whole script is one function, read before it runs: editing the file during a long
# run cannot change what runs.
main() {
  cd "$(dirname "$0")/.."
  if [ "$#" -ne 2 ] || ! [[ "$2" =~ ^[0-9]+$ ]]; then
    echo "usage: scripts/fuzz.sh TARGET|all SECONDS" >&2
    exit 2
  fi
  target=$1
  seconds=$2
  build=${BUILD_FUZZ_DIR:-build-fuzz}
  mapfile -t targets < <(grep -v '^#' fuzz/targets.txt | sed '/^$/d')
  if [ "$target" = all ]; then
    run=("${targets[@]}")
  elif printf '%s\n' "${targets[@]}" | grep -qx "$target"; then
    run=("$target")
  else
    echo "fuzz: unknown target '$target'; targets: ${targets[*]}" >&2
    exit 2
  fi

  ./scripts/install-deps.sh
  missing=()
  for p in clang-14 libclang-rt-14-dev; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    SUDO=""; if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
    echo "fuzz: installing ${missing[*]}"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
  fi

  if ! grep -q '^FEDLORA_BUILD_FUZZ:BOOL=ON' "$build/CMakeCache.txt" 2>/dev/null; then
    CC=clang-14 CXX=clang++-14 cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DFEDLORA_BUILD_FUZZ=ON -DFEDLORA_BUILD_TESTS=OFF -DFEDLORA_BUILD_BENCH=OFF >/dev/null
  else
    cmake "$build" >/dev/null  # a target added to fuzz/targets.txt is unknown until regenerated
  fi
  jobs=$(nproc)
  if ! cmake --build "$build" -j"$jobs" --target $(printf 'fuzz_%s ' "${run[@]}") >"$build/fuzz-build.log" 2>&1; then
    tail -30 "$build/fuzz-build.log" >&2
    echo "fuzz: build failed (log: $build/fuzz-build.log)" >&2
    exit 2
  fi

  export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
  export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
  status=0
  for t in "${run[@]}"; do
    mkdir -p "$build/corpus/$t" "$build/crashes/$t"
    log="$build/$t.log"
    echo "fuzz: $t for ${seconds}s"
    # The binaries run from the repository root (some targets read models/base.gguf).
    if ! "$build/bin/fuzz_$t" -max_total_time="$seconds" -timeout=20 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$build/crashes/$t/" "$build/corpus/$t" "fuzz/corpus/$t" 2>"$log"; then
      echo "fuzz: $t FAILED (log: $log)" >&2
      grep -E "ERROR|SUMMARY|invariant|runtime error" "$log" | head -20 >&2 || true
      grep -o "Test unit written to .*" "$log" | sort -u | sed 's/^Test unit written to /fuzz: crashing input: /' >&2 || true
      status=1
    fi
    grep -E "stat::number_of_executed_units|stat::peak_rss_mb" "$log" | sort -u | tr -s ' \n' ' ' || true
    echo
  done
  exit $status
}
main "$@"
