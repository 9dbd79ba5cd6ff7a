#!/usr/bin/env bash
# Regenerates every bundle icon in icons/ from the one source, icons/icon.svg.
set -euo pipefail
cd "$(dirname "$0")/../icons"
render() { rsvg-convert -w "$1" -h "$1" icon.svg -o "$2"; }
render 32 32x32.png
render 128 128x128.png
render 256 128x128@2x.png
render 512 icon.png
for s in 16 24 32 48 64 256; do render "$s" "ico-$s.png"; done
/usr/bin/convert ico-16.png ico-24.png ico-32.png ico-48.png ico-64.png ico-256.png icon.ico
for s in 16 32 128 256 512; do render "$s" "icns-$s.png"; done
png2icns icon.icns icns-16.png icns-32.png icns-128.png icns-256.png icns-512.png >/dev/null
# Windows Store tiles (NSIS and MSI use icon.ico; these are for appx/msix packaging).
render 30 Square30x30Logo.png
render 44 Square44x44Logo.png
render 71 Square71x71Logo.png
render 89 Square89x89Logo.png
render 107 Square107x107Logo.png
render 142 Square142x142Logo.png
render 150 Square150x150Logo.png
render 284 Square284x284Logo.png
render 310 Square310x310Logo.png
render 50 StoreLogo.png
rm -f ico-*.png icns-*.png
echo "icons written to $(pwd)"
