#!/usr/bin/env bash
# One-script quick start of a real deployment on this machine: a fedlora-coordinator with
# TLS and bearer tokens, N fedlora-client devices each holding its own slice of text, and
# ROUNDS rounds of federated LoRA training over gRPC. Everything goes to $WORK.
#   ./scripts/quickstart.sh                 # 4 devices, 3 rounds
#   N=8 ROUNDS=5 ./scripts/quickstart.sh
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-4}
ROUNDS=${ROUNDS:-3}
if [ -z "${DATA:-}" ]; then source scripts/data-dir.sh; DATA=$FEDLORA_DATA_DIR/shakespeare/tinyshakespeare.txt; fi
WORK=${WORK:-runs/quickstart}

./scripts/install-deps.sh
# Only the two programs (keeps any test/bench options an existing build/ was configured with).
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)" --target fedlora-coordinator fedlora-client
[ -f "$DATA" ] || { echo "quickstart: no text at $DATA; set DATA=FILE" >&2; exit 1; }

rm -rf "$WORK"
mkdir -p "$WORK/pki"
# A throw-away CA and a server certificate for localhost (real deployments bring their own).
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/CN=fedlora quickstart CA" \
  -keyout "$WORK/pki/ca.key" -out "$WORK/pki/ca.crt" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=localhost" \
  -keyout "$WORK/pki/server.key" -out "$WORK/pki/server.csr" 2>/dev/null
printf "subjectAltName=DNS:localhost,IP:127.0.0.1\n" > "$WORK/pki/san.ext"
openssl x509 -req -in "$WORK/pki/server.csr" -CA "$WORK/pki/ca.crt" -CAkey "$WORK/pki/ca.key" -CAcreateserial \
  -days 2 -extfile "$WORK/pki/san.ext" -out "$WORK/pki/server.crt" 2>/dev/null

# One bearer token and one slice of the text per device.
lines=$(wc -l < "$DATA")
per=$(( lines / N ))
: > "$WORK/devices.tokens"
for i in $(seq 0 $((N - 1))); do
  token=$(openssl rand -hex 16)
  echo "dev$i $token" >> "$WORK/devices.tokens"
  echo "$token" > "$WORK/dev$i.token"
  chmod 600 "$WORK/dev$i.token"
  sed -n "$((i * per + 1)),$(((i + 1) * per))p" "$DATA" > "$WORK/dev$i.txt"
done

build/bin/fedlora-coordinator serve --config configs/coordinator.toml \
  --set serve.listen=127.0.0.1:0 --set serve.state_dir="$WORK/state" --set serve.tokens_file="$WORK/devices.tokens" \
  --set serve.tls_cert="$WORK/pki/server.crt" --set serve.tls_key="$WORK/pki/server.key" \
  --set serve.over_selection=1.0 --set serve.checkin_retry_ms=200 \
  --set federation.rounds="$ROUNDS" --set federation.cohort_size="$N" --set client.max_steps=20 \
  > "$WORK/coordinator.out" 2> "$WORK/coordinator.log" &
coordinator=$!
for _ in $(seq 1 100); do grep -q "listening on" "$WORK/coordinator.out" 2>/dev/null && break; sleep 0.1; done
address=$(sed -n 's/^listening on //p' "$WORK/coordinator.out")
[ -n "$address" ] || { cat "$WORK/coordinator.log" >&2; exit 1; }
port=${address##*:}
echo "coordinator on localhost:$port (log $WORK/coordinator.log)"

for i in $(seq 0 $((N - 1))); do
  build/bin/fedlora-client run --coordinator "localhost:$port" --ca "$WORK/pki/ca.crt" \
    --device-id "dev$i" --token "$WORK/dev$i.token" --data "$WORK/dev$i.txt" --state "$WORK/device-$i" \
    > "$WORK/dev$i.log" 2>&1 &
done
echo "$N devices started (logs $WORK/dev*.log); waiting for $ROUNDS rounds"
wait "$coordinator"
wait
build/bin/fedlora-coordinator status --state "$WORK/state"
echo "metrics: $WORK/state/metrics.jsonl; adapter checkpoints: $WORK/state/checkpoints/"
