#!/usr/bin/env bash
# Checks the house rules (rustfmt, clippy with warnings as errors), builds everything (network
# allowed), then runs every test: Rust unit + integration tests, the schema-driven REST fuzz
# and the browser tests (headless Chromium and Firefox ESR). As root, tests run in a
# loopback-only network namespace so ICE can only use 127.0.0.1.
#
# One failure never hides the rest: every step runs (cargo with --no-fail-fast runs every test
# binary), each step's result is printed in a summary at the end, and the script fails if any
# step failed.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

failed=()
step() {
  local name="$1"
  shift
  local t0=$SECONDS
  echo "==> $name"
  if "$@"; then
    echo "==> $name: ok ($((SECONDS - t0)) s)"
  else
    echo "==> $name: FAILED ($((SECONDS - t0)) s)"
    failed+=("$name")
  fi
}

# The build comes first and alone: without it nothing below can run.
# It also builds target/debug/tessera, which the browser tests start (a separate `--bin` build
# recompiled crates with a different feature set: 2 min 43 s of CI for the same server).
step "build" cargo build --locked --all-targets
if ((${#failed[@]})); then
  echo "==> the build failed: no test can run" >&2
  exit 1
fi
step "cargo fmt --check" cargo fmt --all -- --check
# Checks every dependency again in check mode (about 1.5 min on 2 cores): clippy cannot reuse
# the build's artefacts.
step "cargo clippy" cargo clippy --locked --all-targets -- -D warnings

# Runs in the loopback-only network namespace (a separate bash, same file system): writes one
# line per failed step to $TESSERA_TEST_STATUS, and `finished` at the end.
inner() {
  set -uo pipefail
  local t0 f
  t0=$SECONDS
  # Every binary, even after a failure in an earlier one; a binary's tests that start a server
  # take turns through tests/common's `one_call_at_a_time`.
  cargo test --offline --locked --all-targets --no-fail-fast || echo "cargo test" >>"$TESSERA_TEST_STATUS"
  echo "==> cargo test: $((SECONDS - t0)) s"
  t0=$SECONDS
  # Schema-driven fuzz of the REST API against a real server (about 2 minutes, no network).
  scripts/fuzz-rest.sh run || echo "REST fuzz" >>"$TESSERA_TEST_STATUS"
  echo "==> REST fuzz: $((SECONDS - t0)) s"
  t0=$SECONDS
  # One browser test file at a time (each runs a call with its own browsers and server), every
  # file even after a failure.
  for f in tests/browser/*.test.mjs; do
    (cd tests/browser && node --test "${f##*/}") || echo "browser test ${f##*/}" >>"$TESSERA_TEST_STATUS"
  done
  echo "==> browser tests: $((SECONDS - t0)) s"
  echo finished >>"$TESSERA_TEST_STATUS"
}
export -f inner

log="$(mktemp)"
TESSERA_TEST_STATUS="$(mktemp)"
export TESSERA_TEST_STATUS
trap 'rm -f "$log" "$TESSERA_TEST_STATUS"' EXIT
if [ "$(id -u)" -eq 0 ] && unshare -n true 2>/dev/null; then
  echo "Running the tests in a loopback-only network namespace"
  unshare -n bash -c 'ip link set lo up && inner' 2>&1 | tee "$log"
else
  inner 2>&1 | tee "$log"
fi
while IFS= read -r line; do
  [ "$line" = finished ] || failed+=("$line")
done <"$TESSERA_TEST_STATUS"
# A namespace that could not start, or a run cut short, is a failure too.
grep -qx finished "$TESSERA_TEST_STATUS" || failed+=("the test run did not finish")

echo
if ((${#failed[@]})); then
  echo "==> FAILED (${#failed[@]}):"
  printf '    %s\n' "${failed[@]}"
  echo "==> failed tests:"
  grep -a -E '^test .* \.\.\. FAILED$|^not ok |^error: test failed|^error: [0-9]+ targets? failed' "$log" | sed 's/^/    /' || true
  exit 1
fi
echo "==> every check and test passed"
