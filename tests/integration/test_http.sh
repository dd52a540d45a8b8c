#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# test_http.sh: `batlink monitor --http` against real clients: curl for /healthz, /api/state and
# error statuses, `promtool check metrics` (Debian package prometheus) for the /metrics text.
# Two monitors run side by side: one on the steady simulated battery (the content checks), one on
# a battery going silent after 3 s (sim:?scenario=silent-after-3) for /healthz through the link
# states: 200 "up", 200 "stale" (a late burst is no reason to restart anything), 503 "down".
# Every wait polls a condition with a generous deadline, never a fixed time, so the test passes
# under `ctest -j$(nproc)` on a loaded machine.
set -u
BATLINK=${BATLINK:-build/batlink}
for tool in curl promtool python3; do
    if ! command -v "$tool" >/dev/null; then
        echo "FAIL: $tool missing: run scripts/setup.sh --test"
        exit 1
    fi
done

tmp=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
    rm -rf "$tmp"
}
trap cleanup EXIT
fails=0
fail() {
    echo "FAIL: $*" >&2
    fails=$((fails + 1))
}

# wait_until SECONDS COMMAND...: run COMMAND every 50 ms until it succeeds; 1 after the deadline
wait_until() {
    local end=$((SECONDS + $1))
    shift
    until "$@"; do
        ((SECONDS < end)) || return 1
        sleep 0.05 # the polling interval
    done
}

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# health URL: sets $code and $body from /healthz
health() {
    code=$(curl -s -m 10 -o "$tmp/h" -w '%{http_code}' "$1/healthz")
    body=$(cat "$tmp/h" 2>/dev/null)
}
health_is() { # URL BODY: /healthz says BODY
    health "$1"
    [[ $body == "$2" ]]
}

# the steady battery: content checks
port=$(free_port)
url=http://127.0.0.1:$port
"$BATLINK" monitor --http "$port" --json --duration 300 sim: >"$tmp/out.json" 2>"$tmp/err.txt" &
pids+=($!)
steady=$!

# the battery that goes silent: stale after 1 s, down after 8 s more (a window no poll misses)
port2=$(free_port)
url2=http://127.0.0.1:$port2
cat >"$tmp/b.ini" <<EOF
[monitor]
stale_after = 1
down_after = 8
EOF
"$BATLINK" monitor --config "$tmp/b.ini" --http "$port2" --duration 300 \
    'sim:?scenario=silent-after-3' >/dev/null 2>"$tmp/err2.txt" &
pids+=($!)
silent=$!

# link up: 200 "up"
wait_until 60 health_is "$url" up || fail "/healthz never 'up': $code $body $(cat "$tmp/err.txt")"
[[ $code == 200 ]] || fail "/healthz while frames arrive: $code $body"

# /api/state: the JSON state with the simulated battery's numbers, once a full cycle of its
# frames has arrived
state_complete() {
    curl -s -m 10 -o "$tmp/state.json" -w '%{http_code} %{content_type}' "$url/api/state" \
        >"$tmp/state.code" || return 1
    python3 - "$tmp/state.json" <<'EOF'
import json, sys
s = json.load(open(sys.argv[1]))
sys.exit(0 if all(k in s for k in ("soc_pct", "voltage_v", "current_a", "power_w")) else 1)
EOF
}
wait_until 60 state_complete || fail "/api/state never complete: $(cat "$tmp/state.json")"
code=$(cat "$tmp/state.code")
[[ $code == "200 application/json" ]] || fail "/api/state: $code"
python3 - "$tmp/state.json" <<'EOF' || fail "/api/state content"
import json, sys
s = json.load(open(sys.argv[1]))
assert s["link"]["state"] == "up", s["link"]
assert 0 <= s["soc_pct"] <= 100, s
assert 40 < s["voltage_v"] < 60, s
assert abs(s["power_w"] - s["voltage_v"] * s["current_a"]) <= 1, s
assert s["link"]["frames"] > 0 and isinstance(s["alarms"], list), s
EOF

# /metrics: content type of format 0.0.4 and a text promtool accepts
ctype=$(curl -s -m 10 -o "$tmp/metrics" -w '%{content_type}' "$url/metrics")
[[ $ctype == "text/plain; version=0.0.4; charset=utf-8" ]] || fail "/metrics content type: $ctype"
if ! promtool check metrics <"$tmp/metrics" >"$tmp/promtool.txt" 2>&1; then
    fail "promtool check metrics: $(cat "$tmp/promtool.txt")"
fi
grep -Eq '^batlink_battery_soc_ratio\{battery="battery"\} (0(\.[0-9]+)?|1)$' "$tmp/metrics" ||
    fail "soc ratio sample missing"
grep -Eq '^batlink_link_up\{battery="battery"\} 1$' "$tmp/metrics" || fail "link_up 1"
grep -Eq '^batlink_can_frames_received_total\{source="sim:[^"]*"\} [1-9][0-9]*$' "$tmp/metrics" ||
    fail "frames counter"
grep -Eq '^batlink_http_connections_dropped_total\{reason="timeout"\} 0$' "$tmp/metrics" ||
    fail "http drop counter"

# other paths and methods
code=$(curl -s -m 10 -o /dev/null -w '%{http_code}' "$url/nope")
[[ $code == 404 ]] || fail "unknown path: $code"
code=$(curl -s -m 10 -o /dev/null -w '%{http_code}' -X POST "$url/metrics")
[[ $code == 405 ]] || fail "POST: $code"

# the silent battery: /healthz 200 "stale" while the link is stale, then 503 "down"
wait_until 60 health_is "$url2" stale || fail "/healthz never 'stale': $code $body"
[[ $code == 200 ]] || fail "/healthz while the link is stale: $code $body (want 200)"
wait_until 60 health_is "$url2" down || fail "/healthz never 'down': $code $body"
[[ $code == 503 ]] || fail "/healthz after link loss: $code $body (want 503)"
curl -s -m 10 "$url2/metrics" >"$tmp/metrics2"
grep -Eq '^batlink_link_state\{battery="battery",state="down"\} 1$' "$tmp/metrics2" ||
    fail "link_state down in /metrics"
promtool check metrics <"$tmp/metrics2" >/dev/null 2>&1 || fail "promtool on the down state"

# a busy port is a clear error with exit 1 (runtime), not a crash
"$BATLINK" monitor --http "127.0.0.1:$port" --duration 1 sim: >/dev/null 2>"$tmp/busy.txt"
rc=$?
[[ $rc == 1 ]] && grep -q "Address already in use" "$tmp/busy.txt" ||
    fail "busy port: rc $rc: $(cat "$tmp/busy.txt")"
# a malformed address is a usage error
"$BATLINK" monitor --http "localhost:x" --duration 1 sim: >/dev/null 2>"$tmp/bad.txt"
rc=$?
[[ $rc == 2 ]] || fail "bad --http: rc $rc: $(cat "$tmp/bad.txt")"

# a clean stop: SIGTERM, exit 0
for p in $steady $silent; do
    kill -TERM "$p"
    wait "$p"
    rc=$?
    [[ $rc == 0 ]] || fail "monitor (pid $p) exit status $rc: $(cat "$tmp/err.txt" "$tmp/err2.txt")"
done
pids=()

if ((fails > 0)); then
    echo "$fails failure(s)"
    exit 1
fi
echo ok
