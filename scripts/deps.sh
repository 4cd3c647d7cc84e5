#!/usr/bin/env bash
# Installs what Tessera needs on Debian 12 (only what is missing): GStreamer 1.22 and plugins,
# build tools for the Rust crates, Chromium and Node for the browser tests, and the real servers
# the output tests push to (nginx with the RTMP module).
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
  pkg-config cmake
  libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev
  gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad
  gstreamer1.0-plugins-ugly gstreamer1.0-libav gstreamer1.0-x gstreamer1.0-tools
  chromium iproute2 util-linux
  nginx libnginx-mod-rtmp
)
command -v node >/dev/null || PACKAGES+=(nodejs)
command -v npm >/dev/null || PACKAGES+=(npm)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "Installing: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if ! command -v cargo >/dev/null; then
  echo "cargo not found: install a Rust toolchain (1.88 or newer), e.g. with rustup" >&2
  exit 1
fi

# Browser-test driver (never downloads a browser: the tests use Debian's /usr/bin/chromium).
if [ ! -d tests/browser/node_modules/playwright-core ] || [ ! -d tests/browser/node_modules/hls.js ]; then
  (cd tests/browser && npm ci --no-audit --no-fund --loglevel=error)
fi
