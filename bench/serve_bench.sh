#!/usr/bin/env bash
# Durable submissions per second and latency of `codefleet serve` on SQLite, with wrk on
# loopback: POST /v1/tasks, each with its own Idempotency-Key, each durable (WAL,
# synchronous=FULL) before its 201.
# Usage: bash bench/serve_bench.sh [SPEC] [SECONDS] [TASK_JSON]
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=build/src/cli/codefleet
SPEC=${1:-examples/recommended.yaml}
SECS=${2:-20}
TASK=${3:-'{"class": "ci"}'}
KEY=bench-admin-key-0123456789
PORT=18181
DIR=$(mktemp -d)
trap 'kill $PID 2>/dev/null || true; rm -rf "$DIR"' EXIT
for c in 16 32 64; do
  rm -f "$DIR"/bench.db*
  $BIN serve --spec "$SPEC" --listen 127.0.0.1:$PORT --store "sqlite:$DIR/bench.db" \
    --bootstrap-admin-key $KEY --log-requests false 2>"$DIR/serve.log" &
  PID=$!
  for _ in $(seq 100); do curl -sf http://127.0.0.1:$PORT/readyz >/dev/null && break; sleep 0.1; done
  echo "== $c connections, ${SECS}s, spec $SPEC"
  CODEFLEET_KEY=$KEY CODEFLEET_TASK=$TASK wrk -t2 -c$c -d${SECS}s --latency -s bench/wrk/submit.lua \
    http://127.0.0.1:$PORT | grep -E "Requests/sec|p50 |Non-2xx|timeout"
  # Every 201 is a row: count what the store holds.
  kill -TERM $PID; wait $PID || true
  echo "tasks stored: $(sqlite3 "$DIR/bench.db" 'SELECT COUNT(*) FROM tasks' 2>/dev/null || echo '?')"
done
