#!/usr/bin/env bash
# `make demo`: the CLI on the bundled examples, then the daemon — `codefleet serve` on
# examples/recommended.yaml with the embedded SQLite store against the simulated region
# (60 simulated seconds per second) — fed by the bundled Azure LLM trace (300 real
# requests, CC-BY 4.0, see tests/fixtures/traces/README.md) through its HTTP API.
#
#   bash scripts/demo.sh [CODEFLEET_BINARY]
#
# DEMO_PORT: the port to serve on (default 8080, or the next free one up to 8180 when 8080
#   is taken). DEMO_KEY: the admin API key (default: a random one, printed).
# DEMO_KEEP=1: leave the daemon serving until Ctrl-C. DEMO_DIR: its store and log
#   (default build/demo, emptied first).
#
# Every step must do what it is shown doing: a command with another exit code than the
# one expected, a daemon that does not start (its own error is shown, from its log), one
# that dies, or another program answering on the port ends the demo with exit code 1.
set -uo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
CF="${1:-build/src/cli/codefleet}"
case "$CF" in /*) ;; */*) CF="$PWD/$CF" ;; esac  # relative to where we were started
cd "$ROOT" || exit 1
DIR="${DEMO_DIR:-build/demo}"
PID=""

fail() {
  printf '\n\033[1;31mdemo failed: %s\033[0m\n' "$*" >&2
  exit 1
}

# step EXPECTED_EXIT_CODE COMMAND...: shows the command and runs it; another exit code
# fails the demo (`validate examples/seed.yaml` is meant to find errors: 1).
step() {
  local expected=$1
  shift
  printf '\n\033[1m$ %s\033[0m\n' "$*"
  "$@"
  local code=$?
  echo "(exit code $code)"
  [ "$code" = "$expected" ] || fail "'$*' exited with $code, expected $expected"
  [ -z "$PID" ] || daemon_alive
}

# The daemon's log, and the demo's end, when it is not running any more.
daemon_alive() {
  kill -0 "$PID" 2>/dev/null && return 0
  wait "$PID"
  local code=$?
  PID=""
  echo "--- the end of $DIR/serve.log:" >&2
  tail -n 20 "$DIR/serve.log" >&2
  fail "the daemon exited with code $code (its log: $DIR/serve.log)"
}

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

[ -x "$CF" ] || fail "$CF is not an executable (build it: cmake --build build --target codefleet)"

if [ -n "${DEMO_PORT:-}" ]; then
  PORT=$DEMO_PORT  # taken or not: the daemon says so itself
else
  PORT=8080
  while port_in_use "$PORT"; do
    PORT=$((PORT + 1))
    [ "$PORT" -le 8180 ] || fail "ports 8080 to 8180 are all in use: set DEMO_PORT"
  done
fi
KEY="${DEMO_KEY:-$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')}"
URL=http://127.0.0.1:$PORT

get() {
  printf '\n\033[1m$ curl -H "Authorization: Bearer $KEY" %s\033[0m\n' "$URL$1"
  curl -sSf -H "Authorization: Bearer $KEY" "$URL$1" || fail "GET $1 failed"
  echo
  daemon_alive
}

step 1 "$CF" validate examples/seed.yaml
step 0 "$CF" validate examples/recommended.yaml
step 0 "$CF" route examples/recommended.yaml --task '{"class": "fine-tune", "deferrable": false}'
step 0 "$CF" plan examples/seed.yaml --ignore-validation-errors

rm -rf "$DIR" && mkdir -p "$DIR" || fail "cannot make $DIR"
printf '\n\033[1m$ %s serve --spec examples/recommended.yaml --store sqlite:%s/codefleet.db --listen 127.0.0.1:%s --speed 60 --bootstrap-admin-key "$KEY"\033[0m\n' "$CF" "$DIR" "$PORT"
"$CF" serve --spec examples/recommended.yaml --store "sqlite:$DIR/codefleet.db" \
  --listen "127.0.0.1:$PORT" --speed 60 --bootstrap-admin-key "$KEY" \
  --log-requests false 2>"$DIR/serve.log" &
PID=$!
trap '[ -n "$PID" ] && kill "$PID" 2>/dev/null' EXIT
ready=0
for _ in $(seq 300); do
  daemon_alive
  if curl -sf "$URL/readyz" >/dev/null 2>&1; then
    ready=1
    break
  fi
  sleep 0.1
done
[ "$ready" = 1 ] || fail "the daemon did not become ready in 30 s (its log: $DIR/serve.log)"
# Whatever answers must be this daemon: it alone knows the key (an old daemon, or any other
# server that holds the port, does not).
sleep 0.2
daemon_alive
curl -sf -H "Authorization: Bearer $KEY" "$URL/v1/pools" >/dev/null ||
  fail "something else answers on $URL (not the daemon started here, which knows the key): set DEMO_PORT to a free port"
curl -sS "$URL/readyz"
echo
printf '\nThe daemon serves %s; its admin API key: %s\n' "$URL" "$KEY"

step 0 "$CF" submit examples/recommended.yaml --server "$URL" --key "$KEY" \
  --trace tests/fixtures/traces/azure-llm-conv-2023-first300.csv --trace-format azure-llm \
  --llm-class online-inference --speed 20 --quiet
sleep 5  # five minutes of simulated time
daemon_alive
get "/v1/pools"
get "/v1/quotas"
get "/v1/tasks?state=completed&limit=2"
get "/v1/costs"
get "/v1/budgets"
get "/v1/alerts"
printf '\n\033[1m$ curl -H "Authorization: Bearer $KEY" %s/metrics | grep codefleet_tasks\033[0m\n' "$URL"
curl -sSf -H "Authorization: Bearer $KEY" "$URL/metrics" | grep '^codefleet_tasks' ||
  fail "no codefleet_tasks metrics"
daemon_alive
if [ "${DEMO_KEEP:-0}" = 1 ]; then
  printf '\nServing on %s (admin API key: %s). Ctrl-C stops it. Log: %s/serve.log\n' \
    "$URL" "$KEY" "$DIR"
  wait "$PID"
  exit 0
fi
kill -TERM "$PID"
wait "$PID"
code=$?
PID=""
if [ "$code" != 0 ]; then
  tail -n 20 "$DIR/serve.log" >&2
  fail "the daemon exited with code $code on SIGTERM (its log: $DIR/serve.log)"
fi
echo
echo "Daemon stopped (SIGTERM). Its log: $DIR/serve.log; its store: $DIR/codefleet.db"
tail -2 "$DIR/serve.log"
echo
echo "demo: every step did what it showed"
