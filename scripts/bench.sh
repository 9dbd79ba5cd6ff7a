#!/usr/bin/env bash
# `make bench`: release builds of Latchkey and the blank window, then the measurements
# (scripts/bench.py). Exit status 1 when a target is missed.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/dist.sh
TAURI="$PWD/.tools/node_modules/.bin/tauri"
(cd bench/blank && "$TAURI" build --bundles deb)
scripts/with-test-services.sh python3 scripts/bench.py
