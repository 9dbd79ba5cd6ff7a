#!/usr/bin/env bash
# make bench-server: the HTTP service under load, measured from outside over real HTTP
# (crates/latchkey-server/examples/load.rs): ACCOUNTS accounts (default 1,000,000) seeded in bulk,
# two server processes on one PostgreSQL database (a private cluster with PostgreSQL's default
# settings, scripts/with-postgres.sh; BENCH_DATABASE=sqlite for one SQLite file instead), mail to
# aiosmtpd on loopback. Prints each figure beside
# its target and exits 1 when a target is missed. Not part of `make test`: timings on a shared
# machine vary.
set -euo pipefail
cd "$(dirname "$0")/.."
ACCOUNTS="${ACCOUNTS:-1000000}"
BENCH_DATABASE="${BENCH_DATABASE:-postgres}"

cargo build --release -p latchkey-server --bin latchkey-server --example load

tmp=$(mktemp -d)
smtp=""
cleanup() {
  [ -n "$smtp" ] && kill "$smtp" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
port=$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
/usr/bin/python3 -m aiosmtpd -n -l "127.0.0.1:$port" -c aiosmtpd.handlers.Mailbox "$tmp/maildir" &
smtp=$!
for _ in $(seq 100); do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then break; fi
  sleep 0.1
done

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "argon2 threads per server process: ${LATCHKEY_ARGON2_THREADS:-one per core (LATCHKEY_ARGON2_THREADS unset)}"
out="${CARGO_TARGET_DIR:-target}/release"
load=("$out/examples/load" "$out/latchkey-server" "$port" "$tmp/maildir" "$ACCOUNTS" --json "$tmp/figures.json")
case "$BENCH_DATABASE" in
  postgres) scripts/with-postgres.sh "${load[@]}" ;;
  sqlite) "${load[@]}" ;;
  *) echo "BENCH_DATABASE must be postgres or sqlite" >&2; exit 2 ;;
esac
