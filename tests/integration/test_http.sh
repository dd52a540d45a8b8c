#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# test_http.sh: `batlink monitor --http` against real clients: curl for /healthz, /api/state and
# error statuses, `promtool check metrics` (Debian package prometheus) for the /metrics text.
# The source is the simulated battery going silent after 3 s (sim:?scenario=silent-after-3), so
# /healthz must go 200 -> 503 when the link is stale and down.
set -u
BATLINK=${BATLINK:-build/batlink}
for tool in curl promtool python3; do
    if ! command -v "$tool" >/dev/null; then
        echo "FAIL: $tool missing: run scripts/setup.sh --test"
        exit 1
    fi
done

tmp=$(mktemp -d)
pid=
cleanup() {
    [[ -n $pid ]] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
fails=0
fail() {
    echo "FAIL: $*" >&2
    fails=$((fails + 1))
}

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >"$tmp/b.ini" <<EOF
[monitor]
stale_after = 1
down_after = 2
EOF
"$BATLINK" monitor --config "$tmp/b.ini" --http "$port" --json --duration 12 \
    'sim:?scenario=silent-after-3' >"$tmp/out.json" 2>"$tmp/err.txt" &
pid=$!
url=http://127.0.0.1:$port
for _ in $(seq 50); do
    curl -s -o /dev/null "$url/healthz" && break
    sleep 0.1
done
sleep 1.2 # a full cycle of the simulated battery's frames

# link up: 200
code=$(curl -s -o "$tmp/h1" -w '%{http_code}' "$url/healthz")
[[ $code == 200 ]] || fail "/healthz while frames arrive: $code $(cat "$tmp/h1")"

# /api/state: the JSON state with the simulated battery's numbers
code=$(curl -s -o "$tmp/state.json" -w '%{http_code} %{content_type}' "$url/api/state")
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
ctype=$(curl -s -o "$tmp/metrics" -w '%{content_type}' "$url/metrics")
[[ $ctype == "text/plain; version=0.0.4; charset=utf-8" ]] || fail "/metrics content type: $ctype"
if ! promtool check metrics <"$tmp/metrics" >"$tmp/promtool.txt" 2>&1; then
    fail "promtool check metrics: $(cat "$tmp/promtool.txt")"
fi
grep -Eq '^batlink_battery_soc_ratio\{battery="battery"\} (0(\.[0-9]+)?|1)$' "$tmp/metrics" ||
    fail "soc ratio sample missing"
grep -Eq '^batlink_link_up\{battery="battery"\} 1$' "$tmp/metrics" || fail "link_up 1"
grep -Eq '^batlink_can_frames_received_total\{source="sim:[^"]*"\} [1-9][0-9]*$' "$tmp/metrics" ||
    fail "frames counter"

# other paths and methods
code=$(curl -s -o /dev/null -w '%{http_code}' "$url/nope")
[[ $code == 404 ]] || fail "unknown path: $code"
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST "$url/metrics")
[[ $code == 405 ]] || fail "POST: $code"

# the simulated bus goes quiet after 3 s: stale after 1 s more, down after 2 s: 503
sleep 4.5
code=$(curl -s -o "$tmp/h2" -w '%{http_code}' "$url/healthz")
[[ $code == 503 && $(cat "$tmp/h2") == down ]] || fail "/healthz after link loss: $code $(cat "$tmp/h2")"
curl -s "$url/metrics" >"$tmp/metrics2"
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

wait "$pid"
rc=$?
pid=
[[ $rc == 0 ]] || fail "monitor exit status $rc: $(cat "$tmp/err.txt")"

if ((fails > 0)); then
    echo "$fails failure(s)"
    exit 1
fi
echo ok
