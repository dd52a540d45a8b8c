#!/bin/bash
# SPDX-License-Identifier: MIT
# monitor_bench.sh: resources of `batlink monitor` with MQTT and HTTP on, fed over CANET (a
# local peer sending USR-CANET200 13-byte records) at 7 frames/s and ~4,000 frames/s: peak RSS,
# CPU (% of one core) next to a peer tool (socat reading the same stream to /dev/null) in the
# same run, instructions per frame (callgrind) and wake-ups per second when the bus is idle.
# Required (issue 4): peak RSS < 8 MiB, < 1 % of one core at 4,000 frames/s.
#
#   bench/monitor_bench.sh                 # builds build-bench (no sanitizers) and runs all
#   DURATION=20 BATLINK=path/to/batlink bench/monitor_bench.sh
set -eu
cd "$(dirname "$0")/.."
DURATION=${DURATION:-60}
IDLE=${IDLE:-20}
if [ -z "${BATLINK:-}" ]; then
    cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBL_SANITIZE=OFF -DBL_TESTS=OFF \
        >/dev/null
    cmake --build build-bench -j2 --target batlink >/dev/null
    BATLINK=$PWD/build-bench/batlink
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
ticks() { # utime + stime of a process, in clock ticks
    awk '{print $14 + $15}' "/proc/$1/stat"
}
HZ=$(getconf CLK_TCK)

# CANET peer: TCP server; every client gets the Pylon V1.2 burst (can-profiles.md 1.5 bytes,
# 0x356 of 1.4) plus the inverter 0x305, at RATE frames/s, sent every 10 ms in batches.
cat >"$T/peer.py" <<'EOF'
import socket, struct, sys, threading, time
port, rate = int(sys.argv[1]), float(sys.argv[2])
burst = [(0x351, "1402740E740ECC01"), (0x355, "1A006400"), (0x356, "7B13E9FE6B01"),
         (0x359, "000000000A504E"), (0x35C, "C000"), (0x35E, "50594C4F4E202020"),
         (0x305, "0000000000000000")]
recs = []
for cid, hexd in burst:
    d = bytes.fromhex(hexd)
    recs.append(struct.pack(">BI", len(d), cid) + d + bytes(8 - len(d)))
clients, lock = [], threading.Lock()
def accept(srv):
    while True:
        c, _ = srv.accept()
        with lock:
            clients.append(c)
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", port))
srv.listen(4)
threading.Thread(target=accept, args=(srv,), daemon=True).start()
sent, t0 = 0, time.monotonic()
while True:
    time.sleep(0.01)
    due = int((time.monotonic() - t0) * rate)
    if due <= sent:
        continue
    data = b"".join(recs[i % 7] for i in range(sent, due))
    sent = due
    with lock:
        for c in list(clients):
            try:
                c.sendall(data)
            except OSError:
                clients.remove(c)
EOF

MQ=$(free_port)
mosquitto -p "$MQ" >"$T/mosquitto.log" 2>&1 &
PIDS+=($!)
sleep 0.5
mosquitto_sub -p "$MQ" -t 'batlink/#' -t 'homeassistant/#' -v >"$T/mqtt.txt" 2>/dev/null &
PIDS+=($!)

echo "batlink monitor benchmark: $BATLINK, $(nproc) CPUs, $(uname -m), ${DURATION} s per rate"
printf '%-10s %12s %14s %14s %12s %10s %10s\n' "rate" "frames" "monitor CPU%" "socat CPU%" \
    "peak RSS" "MQTT msgs" "/metrics"
for RATE in 7 4000; do
    PORT=$(free_port)
    HP=$(free_port)
    python3 "$T/peer.py" "$PORT" "$RATE" &
    PEER=$!
    PIDS+=($PEER)
    sleep 0.5
    before_mq=$(wc -l <"$T/mqtt.txt")
    "$BATLINK" monitor --mqtt "mqtt://127.0.0.1:$MQ" --http "127.0.0.1:$HP" \
        --duration $((DURATION + 8)) "canet:127.0.0.1:$PORT" >"$T/mon.out" 2>"$T/mon.err" &
    MON=$!
    PIDS+=($MON)
    socat -u "TCP:127.0.0.1:$PORT" /dev/null &
    SOC=$!
    PIDS+=($SOC)
    sleep 5 # start-up, first connection, discovery
    m0=$(ticks $MON)
    s0=$(ticks $SOC)
    scrapes=0
    for ((i = 0; i < DURATION; i += 5)); do # a Prometheus scrape every 5 s
        sleep 5
        curl -sf "http://127.0.0.1:$HP/metrics" >"$T/metrics.txt" && scrapes=$((scrapes + 1))
    done
    m1=$(ticks $MON)
    s1=$(ticks $SOC)
    hwm=$(awk '/VmHWM/ {print $2}' "/proc/$MON/status")
    frames=$(curl -sf "http://127.0.0.1:$HP/api/state" |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["link"]["frames"])')
    kill -TERM $MON
    wait $MON || echo "monitor exit $?" >&2
    kill $SOC $PEER 2>/dev/null || true
    wait $SOC $PEER 2>/dev/null || true
    mq=$(($(wc -l <"$T/mqtt.txt") - before_mq))
    cpu=$(awk "BEGIN {printf \"%.3f\", 100 * ($m1 - $m0) / $HZ / $DURATION}")
    scpu=$(awk "BEGIN {printf \"%.3f\", 100 * ($s1 - $s0) / $HZ / $DURATION}")
    printf '%-10s %12s %13s%% %13s%% %9s KiB %10s %10s\n' "$RATE/s" "$frames" "$cpu" "$scpu" \
        "$hwm" "$mq" "$scrapes ok"
    promtool check metrics <"$T/metrics.txt" >/dev/null 2>&1 || echo "  (promtool: /metrics did not parse)"
    echo "$hwm" >"$T/hwm.$RATE"
    echo "$cpu" >"$T/cpu.$RATE"
done

# Wake-ups when the bus is idle: a CANET peer that sends nothing; voluntary context switches
# of the monitor (each poll(2) that sleeps and returns is one) per second, MQTT and HTTP on.
PORT=$(free_port)
HP=$(free_port)
python3 "$T/peer.py" "$PORT" 0 &
PEER=$!
PIDS+=($PEER)
sleep 0.5
"$BATLINK" monitor --mqtt "mqtt://127.0.0.1:$MQ" --http "127.0.0.1:$HP" \
    --duration $((IDLE + 5)) "canet:127.0.0.1:$PORT" >/dev/null 2>&1 &
MON=$!
PIDS+=($MON)
sleep 3
c0=$(awk '/^voluntary_ctxt_switches/ {print $2}' "/proc/$MON/status")
sleep "$IDLE"
c1=$(awk '/^voluntary_ctxt_switches/ {print $2}' "/proc/$MON/status")
kill -TERM $MON
wait $MON || true
kill $PEER 2>/dev/null || true
wakeups=$(awk "BEGIN {printf \"%.2f\", ($c1 - $c0) / $IDLE}")
echo "idle wake-ups: $wakeups per second (voluntary context switches over ${IDLE} s)"

# Instructions per frame: callgrind on candump files of 20,000 and 220,000 frames; the
# difference removes start-up and exit costs.
python3 - "$T" <<'EOF'
import sys
burst = ["351#1402740E740ECC01", "355#1A006400", "356#7B13E9FE6B01", "359#000000000A504E",
         "35C#C000", "35E#50594C4F4E202020", "305#0000000000000000"]
for n in (20000, 220000):
    with open("%s/f%d.log" % (sys.argv[1], n), "w") as f:
        for i in range(n):
            f.write("(%.6f) can0 %s\n" % (1700000000 + i * 0.00025, burst[i % 7]))
EOF
ir() {
    valgrind --tool=callgrind --callgrind-out-file="$T/cg.out" "$BATLINK" monitor --json \
        "candump:$1" >/dev/null 2>"$T/cg.err"
    awk '/^(summary|totals):/ {print $2; exit}' "$T/cg.out"
}
ir1=$(ir "$T/f20000.log")
ir2=$(ir "$T/f220000.log")
ipf=$((($ir2 - $ir1) / 200000))
echo "instructions per frame (callgrind, candump parse + decode + track): $ipf"

hwm=$(cat "$T/hwm.4000")
cpu=$(cat "$T/cpu.4000")
verdict=PASS
[ "$hwm" -lt 8192 ] || verdict=FAIL
awk "BEGIN {exit !($cpu < 1)}" || verdict=FAIL
echo "required: peak RSS < 8192 KiB (got $hwm), CPU < 1 % at 4,000 frames/s (got $cpu %): $verdict"
[ $verdict = PASS ]
