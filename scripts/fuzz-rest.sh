#!/usr/bin/env bash
# Schema-driven fuzz of the REST API: schemathesis generates requests (valid and invalid) from
# the server's own /api/v1/openapi.json and checks every answer against that document (no 5xx,
# documented status codes, content types, headers and schemas, 405 with `Allow`, auth enforced).
#
#   scripts/fuzz-rest.sh install   # deps.sh: a venv outside the repo, only if missing (network)
#   scripts/fuzz-rest.sh run       # test.sh: against target/debug/tessera on 127.0.0.1 (no network)
#
# Bounded: FUZZ_MAX_EXAMPLES test cases per operation and phase (default 40), FUZZ_MAX_TIME
# seconds in all (default 120). FUZZ_SEED makes a run reproducible.
set -euo pipefail
cd "$(dirname "$0")/.."

SCHEMATHESIS_VERSION=4.32.5
VENV="${TESSERA_FUZZ_VENV:-${XDG_CACHE_HOME:-${HOME:-$(echo ~)}/.cache}/tessera/schemathesis-$SCHEMATHESIS_VERSION}"
ST="$VENV/bin/schemathesis"

install() {
  if [ -x "$ST" ] && "$ST" --version 2>/dev/null | grep -q "version $SCHEMATHESIS_VERSION\$"; then
    return
  fi
  echo "Installing schemathesis $SCHEMATHESIS_VERSION into $VENV"
  rm -rf "$VENV"
  mkdir -p "$(dirname "$VENV")"
  /usr/bin/python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
}

# True when this network namespace has nothing but loopback (no route out, no global address).
loopback_only() {
  command -v ip >/dev/null || return 1
  ! ip route get 192.0.2.1 >/dev/null 2>&1 && ! ip -6 route get 2001:db8::1 >/dev/null 2>&1 \
    && ! ip -o addr show scope global | grep -q .
}

run() {
  if [ ! -x "$ST" ]; then
    echo "schemathesis is not installed: run scripts/deps.sh (or scripts/fuzz-rest.sh install)" >&2
    exit 1
  fi
  local bin="${TESSERA_BIN:-target/debug/tessera}"
  local work
  work=$(mktemp -d)
  local key_secret
  key_secret="fuzz-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
  # Outputs write under the temporary folder; small composites and few recordings keep the
  # media the fuzzer starts cheap on two cores.
  cat >"$work/tessera.toml" <<EOF
recordings_dir = "$work/recordings"
hls_dir = "$work/live"
files_dir = "$work/files"
max_recordings = 2
max_streams_per_room = 1
max_rooms = 10000
# The fuzz judges the API, not the rate limiter (tests/rate_limits.rs does): off.
[rate_limit]
requests_per_second = 0
connects_per_second = 0
per_credential_per_second = 0
[composite]
width = 320
height = 180
fps = 10
bitrate_kbps = 300
EOF
  TESSERA_API_KEYS="fuzz:$key_secret" RUST_LOG="${RUST_LOG:-warn,tessera=info}" \
    "$bin" serve --listen 127.0.0.1:0 --database :memory: --config "$work/tessera.toml" >"$work/server.log" 2>&1 &
  local pid=$!
  # shellcheck disable=SC2064
  trap "kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true; rm -rf '$work'" EXIT
  local addr=""
  for _ in $(seq 1 100); do
    addr=$(grep -o 'listening addr=127\.0\.0\.1:[0-9]*' "$work/server.log" | head -1 | cut -d= -f2 || true)
    [ -n "$addr" ] && break
    kill -0 "$pid" 2>/dev/null || { cat "$work/server.log" >&2; echo "the server exited before listening" >&2; exit 1; }
    sleep 0.1
  done
  [ -n "$addr" ] || { cat "$work/server.log" >&2; echo "the server did not start listening" >&2; exit 1; }

  # Starting an RTMP output makes the server resolve and connect to the generated host: only
  # where nothing but loopback exists (test.sh's network namespace) is that operation fuzzed.
  local isolate=()
  if ! loopback_only; then
    echo "REST fuzz: this host has a network, so POST /api/v1/rooms/{id}/streams is left out"
    isolate=(--exclude-name "POST /api/v1/rooms/{id}/streams")
  fi

  local started=$SECONDS status=0
  # Run from the temporary folder: nothing (Hypothesis' database, reports) lands in the repo.
  local config="$PWD/scripts/fuzz-rest.toml" hooks="$PWD/scripts"
  # The hooks teach schemathesis to send `application/sdp` bodies (the WHIP offer).
  (cd "$work" && PYTHONPATH="$hooks" SCHEMATHESIS_HOOKS=fuzz_hooks "$ST" --config-file "$config" run "http://$addr/api/v1/openapi.json" \
    --header "Authorization: Bearer fuzz:$key_secret" \
    --max-examples "${FUZZ_MAX_EXAMPLES:-40}" \
    --max-time "${FUZZ_MAX_TIME:-120}" \
    --workers 2 \
    --request-timeout 10 \
    --generation-database none \
    ${FUZZ_SEED:+--seed "$FUZZ_SEED"} \
    "${isolate[@]}" --no-color "$@") || status=$?
  echo "REST fuzz: schemathesis exited $status after $((SECONDS - started)) s"
  if grep -q 'panicked' "$work/server.log"; then
    grep -B2 -A8 'panicked' "$work/server.log" >&2
    echo "the server panicked during the REST fuzz" >&2
    status=1
  fi
  if [ "$status" -ne 0 ]; then
    echo "server log (last 60 lines):" >&2
    tail -60 "$work/server.log" >&2
  fi
  return "$status"
}

case "${1:-}" in
  install) install ;;
  run) shift; run "$@" ;;
  *) echo "usage: $0 install|run [schemathesis options]" >&2; exit 2 ;;
esac
