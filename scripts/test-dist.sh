#!/usr/bin/env bash
# Builds the release .deb and proves it: install, run, relaunch, upgrade, remove (src-tauri/tests/installer.rs).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/dist.sh
deb=$(ls -t target/release/bundle/deb/Latchkey_*.deb | head -n 1)
echo "Testing $deb ($(du -h "$deb" | cut -f1))"
LATCHKEY_DEB="$PWD/$deb" scripts/with-test-services.sh \
  cargo test -p latchkey --test installer -- --ignored --nocapture
