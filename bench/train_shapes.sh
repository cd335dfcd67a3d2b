#!/usr/bin/env bash
# Device train-step speed and memory at model shapes, fedlora vs a PyTorch-eager twin.
#
# For each shape (default: smollm2-135m tinyllama-1b; also "default"), this runs
# build/bin/train_bench's BM_TrainStep (one LoRA r=8 step on all 7 projections + Adam, batch
# 4 x 128 tokens; 16 x 128 for the "default" shape, which train_bench registers at N:8/N:16
# only) on a Q4_0 base (plus F32 and Q8_0 with ALL_TYPES=1), with fp32 and int8 base
# products, without and with activation checkpointing, each benchmark in its own process so
# its peak RSS is clean. Then it runs
# bench/torch_twin.py, the same step in eager PyTorch on a dense fp32 base, in fp32 and under
# bf16 autocast, at the same batch. It prints a markdown table:
#   tokens/s        train_bench items_per_second (per second of CPU time)
#   GFLOP/s         achieved GFLOP/s of the step (train_bench's FLOP count, recompute included)
#   share of sgemm  GFLOP/s over plain sgemm at the step's GEMM shapes, same process
#   peak RSS MB     VmHWM from just before the step's state is built to the end of the steps
#   added MB        peak minus the RSS just before (activations, gradients, Adam, scratch)
#   twin fp32/bf16  torch_twin.py tokens/s (CPU time), one row's value repeated per shape
#   ratio           fedlora tokens/s / the faster twin's tokens/s (> 1: fedlora is faster)
#
# One thread each, alternate runs on the same machine (fedlora and the twin never run at the
# same time). The machine should otherwise be idle: on a shared or busy machine the CPU-time
# rates still drift (caches, memory bandwidth), and wall times are meaningless.
#
# Usage: bench/train_shapes.sh [SHAPE...]     (run from anywhere; paths are repo-relative)
#   BUILD_DIR=dir   where bin/train_bench lives (default: build)
#   ALL_TYPES=1     also the F32 and Q8_0 bases
#   TWIN_STEPS=n    timed steps of the twin (default 3)
#   PYTHON=python3  interpreter for torch_twin.py and the JSON parsing
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
build_dir=${BUILD_DIR:-build}
bench="$build_dir/bin/train_bench"
python=${PYTHON:-python3}
twin_steps=${TWIN_STEPS:-3}
if [[ ! -x $bench ]]; then
  echo "train_shapes.sh: $bench not found (build the train_bench target, or set BUILD_DIR)" >&2
  exit 1
fi

shapes=("$@")
[[ ${#shapes[@]} -gt 0 ]] || shapes=(smollm2-135m tinyllama-1b)
types=(Q4_0)
[[ ${ALL_TYPES:-0} == 1 ]] && types=(F32 Q8_0 Q4_0)

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

rows=()
for shape in "${shapes[@]}"; do
  n=4
  [[ $shape == default ]] && n=16
  shape_rows=()
  for type in "${types[@]}"; do
    for combo in "0 0" "1 0" "0 1" "1 1"; do
      read -r ckpt int8 <<<"$combo"
      filter="TrainStep/$type/N:$n/ckpt:$ckpt/int8:$int8/"
      echo "train_shapes.sh: $shape $filter ..." >&2
      "$bench" --shape="$shape" --benchmark_filter="$filter" --benchmark_format=json >"$tmp/bench.json" 2>"$tmp/bench.err" || {
        echo "train_shapes.sh: train_bench failed for $shape $filter:" >&2
        cat "$tmp/bench.err" >&2
        exit 1
      }
      # tokens/s GFLOP/s share peak added, tab-separated
      fields=$("$python" -c '
import json, sys
runs = [b for b in json.load(open(sys.argv[1]))["benchmarks"] if "TrainStep" in b["name"]]
if len(runs) != 1:
    sys.exit("train_shapes.sh: filter %s matched %d TrainStep benchmarks" % (sys.argv[2], len(runs)))
b = runs[0]
print("%.1f\t%.2f\t%.3f\t%.1f\t%.1f" % (b["items_per_second"], b["GFLOPs"], b["share_of_sgemm"],
                                        b["peak_rss_MB"], b["step_added_MB"]))
' "$tmp/bench.json" "$filter")
      shape_rows+=("$type"$'\t'"$ckpt"$'\t'"$int8"$'\t'"$fields")
    done
  done

  echo "train_shapes.sh: $shape torch_twin.py --batch $n --mode both ..." >&2
  twin_fp32=n/a
  twin_bf16=n/a
  twin_out=$("$python" bench/torch_twin.py --shape "$shape" --batch "$n" --steps "$twin_steps" --mode both --json) ||
    echo "train_shapes.sh: torch_twin.py failed for $shape (twin columns n/a)" >&2
  if [[ $twin_out == *"not installed; skipped"* ]]; then
    echo "$twin_out" >&2
  else
    read -r twin_fp32 twin_bf16 < <("$python" -c '
import json, sys
rate = {}
for line in sys.stdin:
    line = line.strip()
    if line.startswith("{"):
        r = json.loads(line)
        rate[r["mode"]] = r["tokens_per_s"]
print(rate.get("fp32", "n/a"), rate.get("bf16", "n/a"))
' <<<"$twin_out")
  fi

  for r in "${shape_rows[@]}"; do
    IFS=$'\t' read -r type ckpt int8 tps gflops share peak added <<<"$r"
    ratio=$("$python" -c '
import sys
t = [float(x) for x in sys.argv[2:] if x != "n/a"]
print("%.2f" % (float(sys.argv[1]) / max(t)) if t else "n/a")
' "$tps" "$twin_fp32" "$twin_bf16")
    gemm=fp32
    [[ $int8 == 1 ]] && gemm=int8
    rows+=("| $shape | $type | $gemm | $ckpt | $tps | $gflops | $share | $peak | $added | $twin_fp32 | $twin_bf16 | $ratio |")
  done
done

echo
echo "| shape | base | products | ckpt | tokens/s | GFLOP/s | share of sgemm | peak RSS MB | added MB | twin fp32 tokens/s | twin bf16 tokens/s | ratio to faster twin |"
echo "|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"
printf '%s\n' "${rows[@]}"
