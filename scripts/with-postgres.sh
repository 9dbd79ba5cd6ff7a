#!/usr/bin/env bash
# Runs a command beside a PostgreSQL server of its own: a new cluster in a temporary folder,
# listening on loopback only, its URL in LATCHKEY_TEST_POSTGRES; stopped and removed afterwards.
#   --throwaway  no fsync (the tests' data is thrown away anyway); without it, PostgreSQL's
#                defaults, as a deployment would have them (make bench-server).
set -euo pipefail

THROWAWAY=()
if [ "${1:-}" = "--throwaway" ]; then
  shift
  THROWAWAY=(-c fsync=off -c synchronous_commit=off -c full_page_writes=off)
fi

# initdb and postgres refuse to run as root: as root, the cluster belongs to the `postgres` user
# the Debian package creates.
as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
if [ -z "$PG_BIN" ]; then
  echo "PostgreSQL is missing: run scripts/install-deps.sh (make deps)" >&2
  exit 1
fi

PG_DIR=$(mktemp -d)
cleanup() {
  as_pg "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$PG_DIR"
}
trap cleanup EXIT
if [ "$(id -u)" = 0 ]; then chown postgres "$PG_DIR"; fi
as_pg "$PG_BIN/initdb" -D "$PG_DIR/data" -U postgres -A trust -E UTF8 --no-sync >"$PG_DIR/initdb.log" 2>&1 ||
  { cat "$PG_DIR/initdb.log" >&2; exit 1; }
PORT=$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
# Enough connections for the tests' pools side by side, or the bench's two processes.
as_pg "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -s \
  -o "-h 127.0.0.1 -p $PORT -k $PG_DIR -c max_connections=400 ${THROWAWAY[*]}" start ||
  { cat "$PG_DIR/server.log" >&2; exit 1; }
export LATCHKEY_TEST_POSTGRES="postgres://postgres@127.0.0.1:$PORT/postgres"

"$@"
