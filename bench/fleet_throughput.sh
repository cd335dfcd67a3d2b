#!/usr/bin/env bash
# Simulator throughput at several cohort sizes: device-rounds per second of wall time and
# CPU seconds per device-round, for comparison with train_bench's single-device step
# (README "Scale on one machine").
#
# Each cohort size runs `fedlora-sim run CONFIG` with one local step per device
# (client.max_steps = 1, client.epochs = 1: one batch of client.batch_size windows), ROUNDS
# rounds, evaluation only before the first and after the last round. While it runs, the
# process's CPU time (/proc/PID/stat utime + stime) is sampled whenever metrics.jsonl gains
# a line, so each round gets its own CPU seconds. Rounds 1 .. ROUNDS-1 are measured (the
# last one also evaluates).
#
# Usage: bench/fleet_throughput.sh            (from anywhere; FEDLORA_DATA_DIR must be set)
#   COHORTS="16 100 1000"  ROUNDS=3  CONFIG=configs/partition_100k.toml  BUILD_DIR=build
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
CONFIG=${CONFIG:-configs/partition_100k.toml}
ROUNDS=${ROUNDS:-3}
TICK=$(getconf CLK_TCK)
echo "| cohort | rounds measured | wall s / round | device-rounds / s | CPU s / device-round | CPU use (of 2 cores) | peak RSS MB (up to the last metrics line) |"
echo "|---:|---:|---:|---:|---:|---:|---:|"
for k in ${COHORTS:-16 100 1000}; do
  name="throughput_$k"
  metrics="runs/$name/metrics.jsonl"
  rm -f "$metrics"
  "$BUILD_DIR/bin/fedlora-sim" run "$CONFIG" --name "$name" --set federation.cohort_size="$k" \
      --set client.max_steps=1 --set client.epochs=1 --set federation.rounds="$ROUNDS" \
      --set federation.eval_every=1000000 --set federation.eval_next_words=0 > "runs/$name.log" 2>&1 &
  pid=$!
  seen=0
  hwm=0
  cpu=()
  while kill -0 "$pid" 2>/dev/null; do
    n=$( [ -f "$metrics" ] && wc -l < "$metrics" || echo 0 )
    if [ "$n" -gt "$seen" ]; then
      t=$(awk '{print $14 + $15}' "/proc/$pid/stat" 2>/dev/null || echo "")
      [ -n "$t" ] && cpu[$n]=$t
      h=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo "")
      [ -n "$h" ] && hwm=$h
      seen=$n
    fi
    sleep 0.2
  done
  wait "$pid"
  # Lines: 1 = round 0 (evaluation), r + 1 = round r. Measured: rounds 1 .. ROUNDS-1.
  python3 - "$metrics" "$k" "$TICK" "$hwm" "${cpu[@]:1}" <<'PY'
import json, sys
path, k, tick, hwm_kb = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
cpu = [float(x) / tick for x in sys.argv[5:]]  # CPU s at lines 1, 2, ...
rows = [json.loads(l) for l in open(path)]
walls, cpus = [], []
for r in range(1, len(rows) - 1):  # the last round also evaluates
    walls.append(rows[r]["wall_s"])
    if r < len(cpu): cpus.append(cpu[r] - cpu[r - 1])
w = sum(walls) / len(walls)
c = sum(cpus) / len(cpus) if cpus else float("nan")
print(f"| {k} | {len(walls)} | {w:.1f} | {k / w:.2f} | {c / k:.3f} | {c / w / 2:.0%} | {hwm_kb / 1024:.0f} |")
PY
done
