#!/usr/bin/env bash
# Installs what Tessera needs on Debian 12 (only what is missing): GStreamer 1.22 and plugins,
# build tools for the Rust crates, Chromium, Firefox ESR, geckodriver and Node for the browser
# tests, the real servers the output tests push to (nginx with the RTMP module), and the
# Prometheus text-format parser the metrics test checks `/metrics` with, FFmpeg (a second reader
# of the recordings, beside GStreamer), Redis for the cluster tests and coturn for the TURN
# test (both started by the tests themselves on loopback, never as a service), and
# simple-whip-client, the WHIP encoder the WHIP test pushes a stream with (the WebRTC headers of
# plugins-bad build gst-plugins-rs's whipsink/whepsrc, the WHIP/WHEP library that test also uses).
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
  pkg-config cmake
  libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev libgstreamer-plugins-bad1.0-dev
  gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad
  gstreamer1.0-plugins-ugly gstreamer1.0-libav gstreamer1.0-x gstreamer1.0-tools
  chromium firefox-esr iproute2 util-linux nftables
  python3-prometheus-client redis-server coturn simple-whip-client
  nginx libnginx-mod-rtmp
  ffmpeg
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

# geckodriver, the WebDriver server the Firefox browser tests drive Debian's firefox-esr through:
# Debian has no package, so it is built from crates.io once into a cache outside
# the project tree, where tests/browser/firefox.mjs finds it (or wherever GECKODRIVER points).
GECKODRIVER_VERSION=0.36.0
GECKODRIVER_ROOT="${XDG_CACHE_HOME:-${HOME:-$(echo ~)}/.cache}/tessera/geckodriver"
if [ -z "${GECKODRIVER:-}" ] \
  && [[ "$("$GECKODRIVER_ROOT/bin/geckodriver" --version 2>/dev/null)" != "geckodriver $GECKODRIVER_VERSION"[[:space:]]* ]]; then
  echo "Building geckodriver $GECKODRIVER_VERSION into $GECKODRIVER_ROOT"
  build_dir="$(mktemp -d)"
  # Built in a temporary folder (not target/), from outside the tree (no project cargo config).
  # At opt-level 1 without debug info (a test driver: its speed does not matter): 2 min 14 s of
  # CPU here instead of 3-5 min of CI.
  (trap 'rm -rf "$build_dir"' EXIT
    cd "$build_dir" && CARGO_TARGET_DIR="$build_dir/target" \
      CARGO_PROFILE_RELEASE_OPT_LEVEL=1 CARGO_PROFILE_RELEASE_DEBUG=false CARGO_PROFILE_RELEASE_LTO=off \
      CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 \
      cargo install geckodriver --locked --version "$GECKODRIVER_VERSION" --root "$GECKODRIVER_ROOT")
fi

# Browser-test drivers (never download a browser: the tests use Debian's /usr/bin/chromium and
# /usr/bin/firefox-esr).
for m in playwright-core hls.js selenium-webdriver; do
  if [ ! -d "tests/browser/node_modules/$m" ]; then
    (cd tests/browser && npm ci --no-audit --no-fund --loglevel=error)
    break
  fi
done

# Schema-driven REST fuzz (scripts/fuzz-rest.sh, run by test.sh): schemathesis, at the version
# pinned there, in a venv outside the project tree, made with Debian's python3 (only if missing).
if ! dpkg-query -W -f='${Status}' python3-venv 2>/dev/null | grep -q "install ok installed"; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends python3 python3-venv
fi
scripts/fuzz-rest.sh install
