#!/usr/bin/env bash
# Runs a command with the real services the tests need, all private to this run:
#   - a D-Bus session bus with gnome-keyring's Secret Service, unlocked (so a default collection exists),
#   - an Xvfb display for the WebKitGTK windows driven by tauri-driver,
#   - a PostgreSQL server for the HTTP service (scripts/with-postgres.sh): its URL in
#     LATCHKEY_TEST_POSTGRES, each test makes its own database in it.
# Everything started here ends with the command.
set -euo pipefail

if [ -z "${LATCHKEY_INSIDE_DBUS:-}" ]; then
  export LATCHKEY_INSIDE_DBUS=1
  exec dbus-run-session -- "$0" "$@"
fi

# A throwaway home for the keyring files, so tests never touch a developer's own keychain.
KEYRING_HOME=$(mktemp -d)
XVFB_PID=""
cleanup() {
  [ -n "$XVFB_PID" ] && kill "$XVFB_PID" 2>/dev/null || true
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

"$(dirname "$0")/with-postgres.sh" --throwaway "$@"
