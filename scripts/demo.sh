#!/usr/bin/env bash
# `make demo`: the CLI on the bundled examples, then the daemon — `codefleet serve` on
# examples/recommended.yaml with the embedded SQLite store against the simulated region
# (60 simulated seconds per second) — fed by the bundled Azure LLM trace (300 real
# requests, CC-BY 4.0, see tests/fixtures/traces/README.md) through its HTTP API.
# DEMO_KEEP=1 leaves the daemon serving until Ctrl-C.
set -uo pipefail
CF="${1:-build/src/cli/codefleet}"
DIR=build/demo
PORT=${DEMO_PORT:-8080}
KEY=demo-admin-key-change-me-0123456789
URL=http://127.0.0.1:$PORT
step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; "$@"; echo "(exit code $?)"; }
get() { printf '\n\033[1m$ curl -H "Authorization: Bearer …" %s\033[0m\n' "$URL$1"; curl -sS -H "Authorization: Bearer $KEY" "$URL$1"; echo; }

step "$CF" validate examples/seed.yaml
step "$CF" validate examples/recommended.yaml
step "$CF" route examples/recommended.yaml --task '{"class": "fine-tune", "deferrable": false}'
step "$CF" plan examples/seed.yaml

rm -rf "$DIR" && mkdir -p "$DIR"
printf '\n\033[1m$ %s serve --spec examples/recommended.yaml --store sqlite:%s/codefleet.db --listen 127.0.0.1:%s --speed 60 --bootstrap-admin-key …\033[0m\n' "$CF" "$DIR" "$PORT"
"$CF" serve --spec examples/recommended.yaml --store "sqlite:$DIR/codefleet.db" \
  --listen "127.0.0.1:$PORT" --speed 60 --bootstrap-admin-key "$KEY" \
  --log-requests false 2>"$DIR/serve.log" &
PID=$!
trap 'kill $PID 2>/dev/null' EXIT
for _ in $(seq 100); do curl -sf "$URL/readyz" >/dev/null && break; sleep 0.1; done
curl -sS "$URL/readyz"; echo
step "$CF" submit examples/recommended.yaml --server "$URL" --key "$KEY" \
  --trace tests/fixtures/traces/azure-llm-conv-2023-first300.csv --trace-format azure-llm \
  --llm-class online-inference --speed 20 --quiet
sleep 5   # five minutes of simulated time
get "/v1/pools"
get "/v1/quotas"
get "/v1/tasks?state=completed&limit=2"
get "/v1/costs"
get "/v1/budgets"
get "/v1/alerts"
printf '\n\033[1m$ curl … %s/metrics | grep codefleet_tasks\033[0m\n' "$URL"
curl -sS -H "Authorization: Bearer $KEY" "$URL/metrics" | grep '^codefleet_tasks'
if [ "${DEMO_KEEP:-0}" = 1 ]; then
  echo; echo "Serving on $URL (API key: $KEY). Ctrl-C stops it. Log: $DIR/serve.log"
  wait $PID
else
  kill -TERM $PID; wait $PID
  echo; echo "Daemon stopped (SIGTERM). Its log: $DIR/serve.log; its store: $DIR/codefleet.db"
  tail -2 "$DIR/serve.log"
fi
trap - EXIT
exit 0
