#!/usr/bin/env bash
# Builds everything (network allowed), then runs every test: Rust unit + integration tests and
# the headless-Chromium browser tests. As root, tests run in a loopback-only network namespace
# so ICE can only use 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."

# Also builds target/debug/tessera, which the browser tests start (a separate `--bin` build
# recompiled crates with a different feature set: 2 min 43 s of CI for the same server).
cargo build --locked --all-targets

inner() {
  set -euo pipefail
  cargo test --offline --locked --all-targets
  # Schema-driven fuzz of the REST API against a real server (about 2 minutes, no network).
  scripts/fuzz-rest.sh run
  (cd tests/browser && node --test)
}
export -f inner

if [ "$(id -u)" -eq 0 ] && unshare -n true 2>/dev/null; then
  echo "Running the tests in a loopback-only network namespace"
  unshare -n bash -c 'ip link set lo up && inner'
else
  inner
fi
