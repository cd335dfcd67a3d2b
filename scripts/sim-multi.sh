#!/usr/bin/env bash
# One simulation in N local processes (ranks), to try the multi-process runtime on one
# machine: rank 0 runs the coordinator and its share of each cohort, ranks 1..N-1 host
# theirs; they meet at 127.0.0.1:PORT (c10d TCPStore + Gloo).
#   ./scripts/sim-multi.sh N CONFIG [extra fedlora-sim run arguments, e.g. --set k=v --name X]
# Each rank gets run.threads = max(1, cores / N) worker threads unless the arguments set
# run.threads. Rank 0's output is this script's output; ranks 1..N-1 log to
# runs/<name>.rank<R>.log (name: --name, else the config's run.name). PORT: $FEDLORA_MASTER_PORT,
# default 29500. Exits with the first failing rank's status.
#
# On several machines run, on each: fedlora-sim run CONFIG --world-size N --rank R
#   --master HOST0:PORT   (same CONFIG, same data; HOST0 is rank 0's address).
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:?usage: scripts/sim-multi.sh N CONFIG [fedlora-sim run arguments]}
config=${2:?usage: scripts/sim-multi.sh N CONFIG [fedlora-sim run arguments]}
shift 2
[[ "$n" =~ ^[1-9][0-9]*$ ]] || { echo "sim-multi: N must be a positive integer, got $n" >&2; exit 2; }
[ -f "$config" ] || { echo "sim-multi: no config $config" >&2; exit 2; }
source scripts/data-dir.sh
[ -x build/bin/fedlora-sim ] || ./scripts/build.sh -DFEDLORA_BUILD_TESTS=OFF -DFEDLORA_BUILD_BENCH=OFF
port=${FEDLORA_MASTER_PORT:-29500}
args=("$@")
name=$(sed -n 's/^name *= *"\(.*\)".*/\1/p' "$config" | head -1)
for ((i = 0; i < ${#args[@]}; i++)); do
  [ "${args[$i]}" = "--name" ] && name=${args[$((i + 1))]}
done
threads=()
if ! printf '%s\n' "${args[@]}" | grep -q '^run\.threads='; then
  threads=(--set "run.threads=$(( $(nproc) / n > 0 ? $(nproc) / n : 1 ))")
fi
mkdir -p runs
pids=()
for ((r = 1; r < n; r++)); do
  build/bin/fedlora-sim run "$config" "${args[@]}" "${threads[@]}" --world-size "$n" --rank "$r" \
      --master "127.0.0.1:$port" > "runs/${name:-run}.rank$r.log" 2>&1 &
  pids+=($!)
done
status=0
build/bin/fedlora-sim run "$config" "${args[@]}" "${threads[@]}" --world-size "$n" --rank 0 \
    --master "127.0.0.1:$port" || status=$?
for p in "${pids[@]}"; do
  wait "$p" || { s=$?; [ "$status" -eq 0 ] && status=$s; }
done
[ "$status" -eq 0 ] || echo "sim-multi: a rank failed (rank logs: runs/${name:-run}.rank*.log)" >&2
exit "$status"
