#!/usr/bin/env bash
# `make test`: every test (ctest) with the private PostgreSQL of scripts/pg.sh
# (127.0.0.1:55432, data in build/pgdata) for the store tests. A server this script starts
# is stopped when it ends, passed or not (Ctrl-C too); one that was already running (an
# earlier `bash scripts/pg.sh start`) is left running.
#
#   bash scripts/test.sh [BUILD_DIR [JOBS]]
set -uo pipefail
BUILD_DIR="${1:-build}"
JOBS="${2:-$(nproc)}"
cd "$(dirname "$0")/.."

if bash scripts/pg.sh status 2>/dev/null; then
  echo "test: PostgreSQL was already running: leaving it running" >&2
else
  trap 'bash scripts/pg.sh stop' EXIT
  trap 'exit 130' INT TERM
fi
env_line="$(bash scripts/pg.sh start)" || exit 1
eval "$env_line"
ctest --test-dir "$BUILD_DIR" --output-on-failure -j "$JOBS"
