#!/usr/bin/env bash
# Installs every system package and tool Latchkey needs to build, run and test.
# Idempotent: when everything is present it only checks and returns in well under a second.
set -euo pipefail

APT_PACKAGES=(
  # Tauri 2 build prerequisites on Linux
  libwebkit2gtk-4.1-dev build-essential file pkg-config libxdo-dev libssl-dev
  libayatana-appindicator3-dev librsvg2-dev
  # The system SQLite (linked, not built in, on Linux): headers, and libclang for sqlx's bindings
  libsqlite3-dev libclang-dev
  # UI tests: WebKitWebDriver and a virtual display, screenshots
  webkit2gtk-driver xvfb xauth
  # UI tests: a person's keys in the system's save dialog (outside the page WebDriver drives)
  xdotool
  # Icons from the one SVG source (scripts/make-icons.sh) and screenshots
  imagemagick librsvg2-bin icnsutils
  # Keychain tests: a real Secret Service on a private D-Bus session
  gnome-keyring dbus-x11 libsecret-tools
  # Mail tests: a real SMTP server process
  python3-aiosmtpd
  # The HTTP service's tests and bench: a real PostgreSQL server (a private cluster per run)
  postgresql
  # make bench: the reference argon2 implementation the round trips are compared with (Debian's
  # build), and a private environment for argon2-cffi's build of it
  libargon2-1 python3-venv
)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

if ((${#missing[@]})); then
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "Latchkey's scripts install packages on Debian/Ubuntu only." >&2
    echo "Please install the equivalents of: ${missing[*]}" >&2
    echo "(see https://v2.tauri.app/start/prerequisites/ for the Tauri ones) and run again." >&2
    exit 1
  fi
  echo "Installing system packages: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# Rust components used by `make test`
if ! cargo fmt --version >/dev/null 2>&1; then rustup component add rustfmt; fi
if ! cargo clippy --version >/dev/null 2>&1; then rustup component add clippy; fi

# tauri-driver: the WebDriver bridge for Tauri apps
if ! command -v tauri-driver >/dev/null 2>&1 && [ ! -x "$HOME/.cargo/bin/tauri-driver" ]; then
  echo "Installing tauri-driver"
  cargo install tauri-driver --locked --version '^2'
fi

# Node tools in .tools/: axe-core for the accessibility checks of the UI tests.
ROOT=$(cd "$(dirname "$0")/.." && pwd)
if [ ! -f "$ROOT/.tools/node_modules/axe-core/axe.min.js" ]; then
  if ! command -v npm >/dev/null 2>&1; then
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends nodejs npm
  fi
  echo "Installing axe-core"
  npm install --silent --no-audit --no-fund --prefix "$ROOT/.tools" axe-core@4.14.1
fi

# make bench: argon2-cffi (the reference libargon2 as pip brings it) in its own environment in
# .tools/, one of the bare hashes the round trips are compared with.
if [ ! -x "$ROOT/.tools/argon2-cffi/bin/python" ] || ! "$ROOT/.tools/argon2-cffi/bin/python" -c "import argon2" 2>/dev/null; then
  echo "Installing argon2-cffi"
  python3 -m venv "$ROOT/.tools/argon2-cffi"
  "$ROOT/.tools/argon2-cffi/bin/pip" install --quiet --disable-pip-version-check "argon2-cffi==25.1.0"
fi
