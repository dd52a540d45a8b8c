#!/bin/bash
# SPDX-License-Identifier: MIT
# bank_bench.sh: `batlink bridge` with 4 packs (jk, jbd, pylon485, jk simulated on ptys) side by
# side with the single-pack bridge (one jk), in the same run, while LOAD processes load the CPU:
# transmit period jitter (p50/p99/max of |interval between 0x351 bursts - period|, measured by
# `batlink record canet-listen:` at the receiving end), CPU and peak RSS of each bridge.
# Bars (issue 12): RSS < 8 MiB, p99 jitter < 2 ms.
#
#   bench/bank_bench.sh                      # 120 s, one load process
#   DURATION=60 LOAD=2 BATLINK=path/to/batlink bench/bank_bench.sh
set -eu
cd "$(dirname "$0")/.."
DURATION=${DURATION:-120}
LOAD=${LOAD:-1}
if [ -z "${BATLINK:-}" ]; then
    cmake -S . -B build-bridge-bench -DCMAKE_BUILD_TYPE=Release -DBL_SANITIZE=OFF -DBL_TESTS=OFF \
        >/dev/null
    cmake --build build-bridge-bench -j2 --target batlink >/dev/null
    BATLINK=$PWD/build-bridge-bench/batlink
fi
T=$(mktemp -d)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$T"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
HZ=$(getconf CLK_TCK)
for _ in $(seq "$LOAD"); do
    sh -c 'while :; do :; done' &
    PIDS+=($!)
done
for k in jk:s0 jk:p0 jbd:p1 pylon485:p2 jk:p3; do
    "$BATLINK" sim --bms "${k%%:*}" --current -10 "$T/${k#*:}" >/dev/null 2>&1 &
    PIDS+=($!)
done
for f in s0 p0 p1 p2 p3; do
    for _ in $(seq 50); do [ -L "$T/$f" ] && break; sleep 0.1; done
done
PA=$(free_port)
PB=$(free_port)
RT=""
if command -v chrt >/dev/null && chrt -f 20 true 2>/dev/null; then RT="chrt -f 20"; fi
$RT "$BATLINK" record "canet-listen:127.0.0.1:$PA" "$T/single.log" 2>/dev/null &
PIDS+=($!)
$RT "$BATLINK" record "canet-listen:127.0.0.1:$PB" "$T/bank.log" 2>/dev/null &
PIDS+=($!)
sleep 0.5
"$BATLINK" bridge --json --bms "jk:$T/s0" --can "canet:127.0.0.1:$PA" --duration "$DURATION" \
    >/dev/null 2>"$T/single.err" &
B1=$!
PIDS+=($B1)
"$BATLINK" bridge --json --bms "jk:$T/p0" --bms "jbd:$T/p1" --bms "pylon485:$T/p2" \
    --bms "jk:$T/p3" --can "canet:127.0.0.1:$PB" --duration "$DURATION" \
    >"$T/bank.json" 2>"$T/bank.err" &
B4=$!
PIDS+=($B4)
sleep "$(python3 -c "print(max(1, $DURATION - 2))")"
stat_of() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hwm_of() { awk '/VmHWM/ {print $2}' "/proc/$1/status"; }
T1=$(stat_of $B1); H1=$(hwm_of $B1); T4=$(stat_of $B4); H4=$(hwm_of $B4)
wait "$B1" || { echo "single bridge failed:"; cat "$T/single.err"; exit 1; }
wait "$B4" || { echo "bank bridge failed:"; cat "$T/bank.err"; exit 1; }
sleep 0.5
python3 - "$T" "$DURATION" "$LOAD" "$HZ" "$T1" "$H1" "$T4" "$H4" <<'PY'
import json, sys
T, dur, load, hz, t1, h1, t4, h4 = sys.argv[1:]
dur, hz = float(dur), float(hz)
def q(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(p * len(v)))] if v else float("nan")
def jitter(path):
    ts = [float(l.split()[0].strip("()")) for l in open(path)
          if len(l.split()) == 3 and l.split()[2].upper().startswith("351#")]
    return [abs(b - a - 1.0) * 1e3 for a, b in zip(ts, ts[1:])]
online = []
for line in open(T + "/bank.json"):
    try:
        online.append(json.loads(line)["bridge"]["bank"]["online"])
    except (ValueError, KeyError):
        pass
print("bank bench: %.0f s, %s load process(es)" % (dur, load))
print("%-22s %8s %8s %8s %8s %10s" % ("", "p50 ms", "p99 ms", "max ms", "CPU %", "RSS KiB"))
for name, log, t, h in (("single-pack bridge", "single.log", t1, h1),
                        ("4-pack bridge", "bank.log", t4, h4)):
    j = jitter(T + "/" + log)
    print("%-22s %8.3f %8.3f %8.3f %8.2f %10s" % (name, q(j, .5), q(j, .99), max(j or [0]),
          100.0 * float(t) / hz / (dur - 2), h))
print("4-pack bridge: packs online at the end %s (max %s)" % (online[-1:] or ["?"],
      max(online or [0])))
j4 = jitter(T + "/bank.log")
ok = q(j4, .99) < 2.0 and int(h4) < 8 * 1024 and max(online or [0]) == 4
print("bars (p99 < 2 ms, RSS < 8 MiB, 4 packs online):", "PASS" if ok else "FAIL")
sys.exit(0 if ok else 1)
PY
