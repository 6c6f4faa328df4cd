#!/usr/bin/env bash
# Latency the LLM gateway adds to streamed chat completions at N concurrent streams, on
# loopback: the same fake upstream called directly, then through `codefleet serve`.
# Usage: bash bench/gateway_bench.sh [STREAMS] [SECONDS] [CHUNKS] [INTERVAL_MS] [TARGET]
# TARGET: self-hosted (code-completion → the spec's vLLM endpoint, the default) or foundry
# (prompt-gen → a Foundry deployment with an api-key, each call's cost written to the store).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=build/src/cli/codefleet
GEN=build/bench/gateway_bench
STREAMS=${1:-500}
SECS=${2:-20}
CHUNKS=${3:-40}
INTERVAL=${4:-25}
TARGET=${5:-self-hosted}
KEY=bench-admin-key-0123456789
UPORT=18291
GPORT=18292
DIR=$(mktemp -d)
UPID= GPID=
trap 'kill $UPID $GPID 2>/dev/null || true; rm -rf "$DIR"' EXIT
ulimit -n 65536 2>/dev/null || ulimit -n 8192 2>/dev/null || true
# The example spec with its self-hosted endpoint and Foundry deployments pointed at the fake
# upstream; the Foundry rate limits lifted (the benchmark is not about them).
sed -e "s#http://vllm.prod.internal:8000/v1#http://127.0.0.1:$UPORT/v1#" \
  -e "s#https://autocoding-foundry.openai.azure.com#http://127.0.0.1:$UPORT#" \
  -e "s#^      tpm: .*#      tpm: 0#" -e "s#^      rpm: .*#      rpm: 0#" \
  -e "s#auth: managed-identity#auth: api-key#" examples/recommended.yaml >"$DIR/spec.yaml"
MODEL=code-completion
[ "$TARGET" = foundry ] && MODEL=prompt-gen
export CODEFLEET_FOUNDRY_KEY_FOUNDRY_MINI=bench-foundry-key CODEFLEET_FOUNDRY_KEY_FOUNDRY_LARGE=bench-foundry-key
$GEN upstream --port $UPORT --chunks "$CHUNKS" --interval-ms "$INTERVAL" 2>"$DIR/upstream.log" &
UPID=$!
$BIN serve --spec "$DIR/spec.yaml" --listen 127.0.0.1:$GPORT --store "sqlite:$DIR/gw.db" \
  --bootstrap-admin-key $KEY --log-requests false 2>"$DIR/serve.log" &
GPID=$!
for _ in $(seq 100); do curl -sf http://127.0.0.1:$GPORT/readyz >/dev/null && break; sleep 0.1; done
echo "== $STREAMS streams, ${SECS}s, $CHUNKS chunks ${INTERVAL} ms apart, to $TARGET ($MODEL); $(nproc) cores"
echo "-- direct:  $($GEN client --url http://127.0.0.1:$UPORT/v1/chat/completions --streams "$STREAMS" --seconds "$SECS")"
# The daemon's CPU (user + system) over the gateway run, per event relayed (warm-up included).
cpu_ticks() { awk '{print $14 + $15}' /proc/$GPID/stat; }
T0=$(cpu_ticks)
OUT=$($GEN client --url http://127.0.0.1:$GPORT/openai/v1/chat/completions --key $KEY --model $MODEL --streams "$STREAMS" --seconds "$SECS")
T1=$(cpu_ticks)
echo "-- gateway: $OUT"
EVENTS=$(echo "$OUT" | sed -n 's/.*"events_all":\([0-9]*\).*/\1/p')
HZ=$(getconf CLK_TCK)
echo "-- gateway CPU: $(awk -v t=$((T1 - T0)) -v hz="$HZ" -v e="$EVENTS" 'BEGIN { printf "%.2f s for %d events: %.1f us per event", t / hz, e, (e > 0 ? t / hz * 1e6 / e : 0) }')"
echo "-- gateway peak threads: $(grep Threads /proc/$GPID/status | awk '{print $2}'), peak RSS $(grep VmHWM /proc/$GPID/status | awk '{print $2, $3}')"
kill -TERM $GPID
wait $GPID || true
GPID=
if [ "$TARGET" = foundry ]; then
  # 100 prompt + 40 completion tokens a call on gpt-4o-mini: 15 + 24 = 39 µ$ each.
  echo "-- LLM cost in the store: $(sqlite3 "$DIR/gw.db" "SELECT SUM(micros) FROM costs WHERE pool LIKE 'llm:%'" 2>/dev/null || echo '?') µ\$ for $(curl -s http://127.0.0.1:$UPORT/deployment-calls) calls to the deployment (39 µ\$ each)"
fi
