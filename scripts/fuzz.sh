#!/usr/bin/env bash
# Runs libFuzzer targets (clang-14, -fsanitize=fuzzer,address,undefined) on their seed corpora.
#   scripts/fuzz.sh TARGET SECONDS   one target (the names are in fuzz/targets.txt)
#   scripts/fuzz.sh all SECONDS      every target, one after the other
# Builds only the fuzz binaries it runs, in the checked build (scripts/checked-build.sh:
# clang-14, ASan + UBSan, build-asan, shared with `scripts/test.sh --sanitize`).
# New inputs found go to build-asan/corpus/TARGET (the committed seeds in fuzz/corpus stay as
# they are). Exits non-zero if any target finds a crash, leak, UB, timeout or OOM, printing
# the path of the input that triggers it: fix the bug, then keep the file in
# fuzz/regressions/TARGET/, where the default test run (fuzz_regression_test) replays it.
# BUILD_CHECKED_DIR overrides the build directory.
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
  build=${BUILD_CHECKED_DIR:-build-asan}
  mapfile -t targets < <(grep -v '^#' fuzz/targets.txt | sed '/^$/d')
  if [ "$target" = all ]; then
    run=("${targets[@]}")
  elif printf '%s\n' "${targets[@]}" | grep -qx "$target"; then
    run=("$target")
  else
    echo "fuzz: unknown target '$target'; targets: ${targets[*]}" >&2
    exit 2
  fi

  mkdir -p "$build"
  if ! BUILD_CHECKED_DIR="$build" ./scripts/checked-build.sh $(printf 'fuzz_%s ' "${run[@]}") \
      >"$build/fuzz-build.log" 2>&1; then
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
