#!/usr/bin/env bash
# Latency the LLM gateway adds to streamed chat completions at N concurrent streams, on
# loopback: the same fake upstream called directly, then through `codefleet serve`.
# Usage: bash bench/gateway_bench.sh [STREAMS] [SECONDS] [CHUNKS] [INTERVAL_MS] [HTTP_THREADS]
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=build/src/cli/codefleet
GEN=build/bench/gateway_bench
STREAMS=${1:-500}
SECS=${2:-20}
CHUNKS=${3:-40}
INTERVAL=${4:-25}
THREADS=${5:-1024}
KEY=bench-admin-key-0123456789
UPORT=18291
GPORT=18292
DIR=$(mktemp -d)
UPID= GPID=
trap 'kill $UPID $GPID 2>/dev/null || true; rm -rf "$DIR"' EXIT
ulimit -n 65536 2>/dev/null || ulimit -n 8192 2>/dev/null || true
# The example spec with its self-hosted endpoint pointed at the fake upstream.
sed "s#http://vllm.prod.internal:8000/v1#http://127.0.0.1:$UPORT/v1#" examples/recommended.yaml >"$DIR/spec.yaml"
$GEN upstream --port $UPORT --chunks "$CHUNKS" --interval-ms "$INTERVAL" 2>"$DIR/upstream.log" &
UPID=$!
$BIN serve --spec "$DIR/spec.yaml" --listen 127.0.0.1:$GPORT --store "sqlite:$DIR/gw.db" \
  --bootstrap-admin-key $KEY --log-requests false --http-threads "$THREADS" 2>"$DIR/serve.log" &
GPID=$!
for _ in $(seq 100); do curl -sf http://127.0.0.1:$GPORT/readyz >/dev/null && break; sleep 0.1; done
echo "== $STREAMS streams, ${SECS}s, $CHUNKS chunks ${INTERVAL} ms apart; $(nproc) cores"
echo "-- direct:  $($GEN client --url http://127.0.0.1:$UPORT/v1/chat/completions --streams "$STREAMS" --seconds "$SECS")"
echo "-- gateway: $($GEN client --url http://127.0.0.1:$GPORT/openai/v1/chat/completions --key $KEY --model code-completion --streams "$STREAMS" --seconds "$SECS")"
echo "-- gateway peak threads: $(grep Threads /proc/$GPID/status | awk '{print $2}'), RSS $(grep VmHWM /proc/$GPID/status | awk '{print $2, $3}')"
