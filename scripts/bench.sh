#!/usr/bin/env bash
# `make bench`: builds the benchmarks (network allowed), then runs them. As root they run in a
# loopback-only network namespace, as the tests do: benchmark H's 5 % UDP loss is an nftables
# rule that must never touch the machine's own network (without root, H reports that row as not
# measured).
set -euo pipefail
cd "$(dirname "$0")/.."

cargo bench --locked --no-run
# The peer benchmark E measures an audio-only room beside: Debian's Janus (its AudioBridge); and
# the speech its clients send (espeak-ng).
if ! command -v janus >/dev/null || ! command -v espeak-ng >/dev/null; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends janus espeak-ng
fi
if [ "$(id -u)" -eq 0 ] && unshare -n true 2>/dev/null; then
  echo "Running the benchmarks in a loopback-only network namespace"
  exec unshare -n bash -c 'ip link set lo up && TESSERA_BENCH_NETNS=1 cargo bench --offline --locked'
fi
cargo bench --offline --locked
