#!/usr/bin/env bash
# scripts/demo.sh must fail, showing the daemon's own error, when its daemon does not run:
#   1. `serve` fails at once (a wrapper around the real binary makes it fail);
#   2. the port is held by another program (a plain HTTP server that even answers /readyz).
# Usage: bash tests/demo/demo_test.sh BUILD/src/cli/codefleet
set -uo pipefail
CF="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
TMP="$(mktemp -d)"
HOLDER=""
trap '[ -n "$HOLDER" ] && kill "$HOLDER" 2>/dev/null; rm -rf "$TMP"' EXIT
failures=0

expect_failure() {  # NAME OUTPUT_FILE EXIT_CODE NEEDLE...
  local name=$1 out=$2 code=$3
  shift 3
  if [ "$code" = 0 ]; then
    echo "FAIL $name: the demo exited 0"; failures=$((failures + 1)); cat "$out"; return
  fi
  for needle in "$@"; do
    if ! grep -qF -- "$needle" "$out"; then
      echo "FAIL $name: no '$needle' in the demo's output"; failures=$((failures + 1)); cat "$out"
      return
    fi
  done
  echo "ok   $name (exit code $code)"
}

free_port() {
  local p
  while :; do
    p=$((20000 + RANDOM % 20000))
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
  done
}

# 1. A daemon that fails to start.
cat >"$TMP/codefleet" <<WRAP
#!/usr/bin/env bash
if [ "\$1" = serve ]; then
  echo 'codefleet: error: cannot open the store (a failure made by the test)' >&2
  exit 2
fi
exec "$CF" "\$@"
WRAP
chmod +x "$TMP/codefleet"
DEMO_DIR="$TMP/demo1" DEMO_PORT="$(free_port)" timeout 120 bash "$ROOT/scripts/demo.sh" \
  "$TMP/codefleet" >"$TMP/out1" 2>&1
expect_failure "daemon fails to start" "$TMP/out1" $? \
  "a failure made by the test" "the daemon exited with code 2"

# 2. The port is held by something that is not a codefleet daemon.
PORT="$(free_port)"
mkdir -p "$TMP/www" && echo ok >"$TMP/www/readyz"
if command -v python3 >/dev/null 2>&1; then
  (cd "$TMP/www" && exec python3 -m http.server --bind 127.0.0.1 "$PORT" >/dev/null 2>&1) &
  HOLDER=$!
  for _ in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break; sleep 0.1; done
  DEMO_DIR="$TMP/demo2" DEMO_PORT="$PORT" timeout 120 bash "$ROOT/scripts/demo.sh" "$CF" \
    >"$TMP/out2" 2>&1
  expect_failure "port held by another server" "$TMP/out2" $? \
    "cannot listen on 127.0.0.1:$PORT" "the daemon exited with code"
else
  echo "skip port held by another server: no python3 to hold it"
fi

[ "$failures" = 0 ]
