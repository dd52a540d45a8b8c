#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# pkg-smoke.sh: check an installed batlink works where it is installed -- that it starts, and that
# `monitor --http` finds and loads everything it needs there (the HTTP output, a module loaded on
# first use in builds that have modules; so is MQTT, pointed at a closed port: the monitor keeps
# retrying and serving). Used by scripts/package.sh on the staged tree of each
# architecture (under qemu-user for arm64/armhf) and by scripts/package-install-test.sh in a clean
# Debian root.
#   scripts/pkg-smoke.sh COMMAND...     e.g. pkg-smoke.sh qemu-aarch64 -L /usr/aarch64-linux-gnu
#                                              build-pkg-arm64/stage/usr/bin/batlink
# The monitor reads the built-in simulator and serves HTTP on a free port of 127.0.0.1; the check
# waits (generous deadline) until /api/state answers with the simulated battery, then stops the
# monitor with SIGTERM, which must end it with status 0.
set -euo pipefail
(($# > 0)) || { echo "usage: $0 COMMAND..." >&2; exit 2; }

say() { echo "pkg-smoke: $*" >&2; }

version=$("$@" --version)
[[ "$version" == batlink\ * ]] || { say "FAIL: --version printed '$version'"; exit 1; }
say "$version"

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
port=$(free_port)
closed=$(free_port) # nothing listens there: MQTT connects, fails and retries
log=$(mktemp)
trap 'rm -f "$log"' EXIT
"$@" monitor --duration 120 --http "127.0.0.1:$port" --mqtt "mqtt://127.0.0.1:$closed" sim: \
    >"$log" 2>&1 &
pid=$!
deadline=$((SECONDS + 60))
state=
while ((SECONDS < deadline)); do
    if ! kill -0 "$pid" 2>/dev/null; then
        break
    fi
    state=$(curl -sf --max-time 5 "http://127.0.0.1:$port/api/state" || true)
    [[ "$state" == *soc* ]] && break
    sleep 0.2
done
if [[ "$state" != *soc* ]]; then
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    tail -n 20 "$log" >&2
    say "FAIL: monitor --http 127.0.0.1:$port --mqtt ... sim: never answered /api/state with a state"
    exit 1
fi
kill -TERM "$pid"
rc=0
wait "$pid" || rc=$?
if ((rc != 0)); then
    tail -n 20 "$log" >&2
    say "FAIL: monitor exited $rc on SIGTERM (expected 0)"
    exit 1
fi
say "ok: monitor --http served /api/state (${#state} bytes) and stopped cleanly"
