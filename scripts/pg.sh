#!/usr/bin/env bash
# A private PostgreSQL 15 for the tests: data in build/pgdata, listening on 127.0.0.1:55432
# only (and a Unix socket under build/), logging to build/pgdata.log. Idempotent: `start`
# on a running server only makes sure the test database exists.
#
#   eval "$(bash scripts/pg.sh start)"   # CODEFLEET_TEST_POSTGRES_URL is now set
#   bash scripts/pg.sh env               # just the export line
#   bash scripts/pg.sh stop
#   bash scripts/pg.sh status           # exit 0 when it runs, 1 when not
#
# initdb and postgres refuse to run as root: as root, the server runs as the `postgres`
# system user (created by Debian's postgresql package), which then owns the data dir.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BUILD="$ROOT/build"
PGBIN="${PGBIN:-/usr/lib/postgresql/15/bin}"
DATA="$BUILD/pgdata"
SOCKETS="$BUILD/pgsocket"
LOG="$BUILD/pgdata.log"
PORT=55432
USER_NAME=codefleet
DATABASE=codefleet_test
URL="postgresql://$USER_NAME@127.0.0.1:$PORT/$DATABASE"

# Runs a server-side command as the user that owns the data dir.
as_owner() {
  if [ "$(id -u)" -eq 0 ]; then
    (cd / && runuser -u postgres -- "$@")
  else
    "$@"
  fi
}

running() {
  [ -f "$DATA/PG_VERSION" ] && as_owner "$PGBIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1
}

print_env() { echo "export CODEFLEET_TEST_POSTGRES_URL=$URL"; }

start() {
  if [ ! -x "$PGBIN/postgres" ]; then
    echo "pg.sh: $PGBIN/postgres is missing: run scripts/setup.sh" >&2
    exit 1
  fi
  mkdir -p "$BUILD" "$SOCKETS"
  touch "$LOG"
  if [ "$(id -u)" -eq 0 ]; then
    if ! id postgres >/dev/null 2>&1; then
      echo "pg.sh: running as root needs the 'postgres' system user (apt install postgresql)" >&2
      exit 1
    fi
    chown postgres: "$SOCKETS" "$LOG"
  fi

  if [ ! -f "$DATA/PG_VERSION" ]; then
    rm -rf "$DATA"
    mkdir -p "$DATA"
    [ "$(id -u)" -eq 0 ] && chown postgres: "$DATA"
    chmod 700 "$DATA"
    echo "pg.sh: initdb $DATA" >&2
    as_owner "$PGBIN/initdb" -D "$DATA" -A trust -U "$USER_NAME" -E UTF8 --locale=C \
      >>"$LOG" 2>&1 || { echo "pg.sh: initdb failed, see $LOG" >&2; exit 1; }
  fi

  if ! running; then
    echo "pg.sh: starting PostgreSQL on 127.0.0.1:$PORT" >&2
    if ! as_owner "$PGBIN/pg_ctl" -D "$DATA" -l "$LOG" -w -t 60 \
      -o "-c listen_addresses=127.0.0.1 -c port=$PORT -k '$SOCKETS'" start >/dev/null; then
      echo "pg.sh: PostgreSQL did not start; the end of $LOG:" >&2
      tail -n 20 "$LOG" >&2
      exit 1
    fi
  fi

  local exists
  exists="$("$PGBIN/psql" -h 127.0.0.1 -p "$PORT" -U "$USER_NAME" -d postgres -Atq \
    -c "SELECT 1 FROM pg_database WHERE datname = '$DATABASE'")"
  if [ "$exists" != 1 ]; then
    "$PGBIN/createdb" -h 127.0.0.1 -p "$PORT" -U "$USER_NAME" "$DATABASE"
  fi
  print_env
}

stop() {
  if running; then
    as_owner "$PGBIN/pg_ctl" -D "$DATA" -m fast -w stop >/dev/null
    echo "pg.sh: stopped" >&2
  else
    echo "pg.sh: not running" >&2
  fi
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  env) print_env ;;
  status)
    if running; then
      echo "pg.sh: running on 127.0.0.1:$PORT (data in $DATA)" >&2
    else
      echo "pg.sh: not running" >&2
      exit 1
    fi
    ;;
  *)
    echo "usage: bash scripts/pg.sh start|stop|status|env" >&2
    exit 2
    ;;
esac
