#!/usr/bin/env bash
# Builds the release installers with the Tauri CLI (the npm package, a prebuilt binary).
# Linux: .deb and .rpm. AppImage is not built: its bundler downloads tools at build time.
set -euo pipefail
cd "$(dirname "$0")/.."

TOOLS=.tools
TAURI="$TOOLS/node_modules/.bin/tauri"
if [ ! -x "$TAURI" ]; then
  command -v npm >/dev/null || { echo "npm is needed to install the Tauri CLI (apt-get install npm)" >&2; exit 1; }
  npm install --silent --no-audit --no-fund --prefix "$TOOLS" @tauri-apps/cli@2
fi
# Filled by src-tauri/build.rs; the CLI looks for it before it builds.
mkdir -p ui/dist
cd src-tauri
# The runner compiles main.rs at opt-level 3 so that argon2 runs at full speed (see the script).
"../$TAURI" build --runner "$PWD/../scripts/cargo-release.sh" --bundles deb rpm "$@"
echo "Installers:"
ls -1 ../target/release/bundle/deb/*.deb ../target/release/bundle/rpm/*.rpm
