#!/usr/bin/env bash
# `make bench`: release builds of Latchkey, the blank window and the bare argon2id verifier
# (bench/argon2-bare, outside the workspace), then the measurements (scripts/bench.py). Exit
# status 1 when a target is missed.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/dist.sh
TAURI="$PWD/.tools/node_modules/.bin/tauri"
(cd bench/blank && "$TAURI" build --bundles deb)
cargo build --release --locked --manifest-path bench/argon2-bare/Cargo.toml --target-dir target/argon2-bare
scripts/with-test-services.sh python3 scripts/bench.py
