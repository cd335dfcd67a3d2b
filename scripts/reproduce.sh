#!/usr/bin/env bash
# Runs a reproduction config (configs/repro/*.toml): every arm listed in its "# arm NAME:
# key=value ..." lines as one fedlora-sim run with those overrides, then a Markdown table
# (fedlora-sim compare, with the file's "# target_accuracy:") and a plot of all arms (against
# the file's "# plot_x:", round by default, or sim-hours).
#   ./scripts/reproduce.sh configs/repro/lora_vs_ffa.toml [extra --set arguments for every arm]
# Outputs: runs/<config>-<arm>/ per arm, runs/<config>.md and runs/<config>.png. An arm
# named "main" with no overrides is the main job itself, shared by every config as
# runs/repro-main (run once; delete that folder to run it again).
set -euo pipefail
cd "$(dirname "$0")/.."
config=${1:?usage: scripts/reproduce.sh configs/repro/NAME.toml [--set k=v ...]}
shift
[ -f "$config" ] || { echo "reproduce: no config $config" >&2; exit 1; }
source scripts/data-dir.sh
[ -x build/bin/fedlora-sim ] || ./scripts/build.sh -DFEDLORA_BUILD_TESTS=OFF -DFEDLORA_BUILD_BENCH=OFF
name=$(basename "$config" .toml)
target=$(sed -n 's/^# target_accuracy: *//p' "$config")
plot_x=$(sed -n 's/^# plot_x: *//p' "$config")
runs=()
mkdir -p runs
while IFS= read -r line; do
  arm=$(sed 's/^# arm \([A-Za-z0-9_]*\):.*/\1/' <<<"$line")
  read -r -a sets <<<"$(sed 's/^# arm [A-Za-z0-9_]*: *//' <<<"$line")"
  args=()
  for s in "${sets[@]}"; do args+=(--set "$s"); done
  if [ "$arm" = main ] && [ "${#sets[@]}" -eq 0 ] && [ "$(grep -c '^\[' "$config")" -eq 0 ]; then
    run=repro-main
    if [ -f "runs/$run/summary.json" ] && [ "$#" -eq 0 ]; then
      echo "reproduce: arm main reuses runs/$run"; runs+=("runs/$run"); continue
    fi
  else
    run=$name-$arm
  fi
  echo "reproduce: arm $arm -> runs/$run (${sets[*]:-the main job})"
  build/bin/fedlora-sim run "$config" --name "$run" ${args[@]+"${args[@]}"} "$@" > "runs/$run.log" 2>&1 ||
    { tail -5 "runs/$run.log" >&2; exit 1; }
  tail -2 "runs/$run.log"
  runs+=("runs/$run")
done < <(grep '^# arm ' "$config")
build/bin/fedlora-sim compare "${runs[@]}" ${target:+--target-accuracy "$target"} | tee "runs/$name.md"
build/bin/fedlora-sim plot "${runs[@]}" --out "runs/$name.png" ${plot_x:+--x "$plot_x"} || true
