#!/usr/bin/env bash
# Runs libFuzzer targets (clang -fsanitize=fuzzer,address,undefined) on their seed corpora.
#   scripts/fuzz.sh TARGET SECONDS   one target (gguf_file, safetensors_file, peft_config,
#                                    spm_tokenizer, bpe_pretokenizer, job_config, secagg_round,
#                                    task_messages)
#   scripts/fuzz.sh all SECONDS      every target, one after the other
# Builds into build-fuzz (clang-14 from Debian). New inputs found go to build-fuzz/corpus/TARGET
# (the committed seeds in fuzz/corpus stay as they are). A crash stops the run with a non-zero
# exit and names the input file: fix the bug, then keep the file in fuzz/regressions/TARGET/,
# where the default test run replays it.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$#" -ne 2 ]; then
  echo "usage: scripts/fuzz.sh TARGET|all SECONDS" >&2
  exit 2
fi
target=$1
seconds=$2
targets=(gguf_file safetensors_file peft_config spm_tokenizer bpe_pretokenizer job_config secagg_round task_messages)
./scripts/install-deps.sh
missing=()
for p in clang-14 libclang-rt-14-dev; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
flags="-fsanitize=address,undefined,fuzzer-no-link -fno-sanitize-recover=undefined -fno-omit-frame-pointer -g"
cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=clang-14 -DCMAKE_CXX_COMPILER=clang++-14 \
  -DFEDLORA_BUILD_FUZZ=ON -DFEDLORA_BUILD_TESTS=OFF -DFEDLORA_BUILD_BENCH=OFF \
  "-DCMAKE_CXX_FLAGS=$flags" "-DCMAKE_C_FLAGS=$flags" "-DCMAKE_EXE_LINKER_FLAGS=-fsanitize=address,undefined" >/dev/null
if [ "$target" = all ]; then run=("${targets[@]}"); else run=("$target"); fi
cmake --build build-fuzz -j"$(nproc)" --target $(printf 'fuzz_%s ' "${run[@]}") >/dev/null
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
status=0
for t in "${run[@]}"; do
  mkdir -p "build-fuzz/corpus/$t" "build-fuzz/crashes/$t"
  echo "fuzz: $t for ${seconds}s"
  if ! ./build-fuzz/bin/fuzz_"$t" -max_total_time="$seconds" -timeout=20 -rss_limit_mb=2048 -print_final_stats=1 \
      -artifact_prefix="build-fuzz/crashes/$t/" "build-fuzz/corpus/$t" "fuzz/corpus/$t" 2>"build-fuzz/$t.log"; then
    echo "fuzz: $t FAILED; input and log:" >&2
    ls build-fuzz/crashes/"$t"/ >&2
    grep -E "ERROR|SUMMARY|invariant|runtime error" "build-fuzz/$t.log" | head -20 >&2
    status=1
  fi
  grep -E "stat::number_of_executed_units|stat::peak_rss_mb" "build-fuzz/$t.log" | tr '\n' ' '; echo
done
exit $status
