#!/usr/bin/env bash
# Runs a command with the real services the tests need, all private to this run:
#   - a D-Bus session bus with gnome-keyring's Secret Service, unlocked (so a default collection exists),
#   - an Xvfb display for the WebKitGTK windows driven by tauri-driver,
#   - a PostgreSQL server for the HTTP service: a new cluster in a temporary folder, listening on
#     loopback only, its URL in LATCHKEY_TEST_POSTGRES (each test makes its own database in it).
# Everything started here ends with the command.
set -euo pipefail

if [ -z "${LATCHKEY_INSIDE_DBUS:-}" ]; then
  export LATCHKEY_INSIDE_DBUS=1
  exec dbus-run-session -- "$0" "$@"
fi

# A throwaway home for the keyring files, so tests never touch a developer's own keychain.
KEYRING_HOME=$(mktemp -d)
XVFB_PID=""
PG_DIR=""
cleanup() {
  [ -n "$XVFB_PID" ] && kill "$XVFB_PID" 2>/dev/null || true
  if [ -n "$PG_DIR" ]; then
    as_pg "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$PG_DIR"
  fi
  pkill -u "$(id -u)" -f "gnome-keyring-daemon.*$KEYRING_HOME" 2>/dev/null || true
  rm -rf "$KEYRING_HOME"
}
trap cleanup EXIT

export XDG_DATA_HOME="$KEYRING_HOME/data" XDG_CONFIG_HOME="$KEYRING_HOME/config"
mkdir -p "$XDG_DATA_HOME" "$XDG_CONFIG_HOME"
# A non-empty password: an empty one leaves no default collection.
eval "$(printf 'latchkey-test-keyring' | gnome-keyring-daemon --unlock --components=secrets)"
export GNOME_KEYRING_CONTROL

if [ -z "${DISPLAY:-}" ]; then
  for n in $(seq 90 130); do
    [ -e "/tmp/.X11-unix/X$n" ] || [ -e "/tmp/.X$n-lock" ] && continue
    Xvfb ":$n" -screen 0 1280x900x24 -nolisten tcp >/dev/null 2>&1 &
    XVFB_PID=$!
    export DISPLAY=":$n"
    for _ in $(seq 1 100); do [ -e "/tmp/.X11-unix/X$n" ] && break; sleep 0.05; done
    break
  done
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
[ "$(id -u)" = 0 ] && chown postgres "$PG_DIR"
as_pg "$PG_BIN/initdb" -D "$PG_DIR/data" -U postgres -A trust -E UTF8 --no-sync >"$PG_DIR/initdb.log" 2>&1 ||
  { cat "$PG_DIR/initdb.log" >&2; exit 1; }
PG_PORT=$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
# Throwaway data: no fsync. Enough connections for the tests' pools running side by side.
as_pg "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -s \
  -o "-h 127.0.0.1 -p $PG_PORT -k $PG_DIR -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=400" \
  start || { cat "$PG_DIR/server.log" >&2; exit 1; }
export LATCHKEY_TEST_POSTGRES="postgres://postgres@127.0.0.1:$PG_PORT/postgres"

"$@"
