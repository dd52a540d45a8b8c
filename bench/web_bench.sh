#!/bin/bash
# SPDX-License-Identifier: MIT
# web_bench.sh: the web page's cost. One `batlink monitor --http` (with [http] history_file) fed
# over CANET at ~4,000 frames/s (the peer of monitor_bench.sh); in the same run, its CPU (% of one
# core) and RSS with no page open, then with the page open in a real browser (headless Chromium,
# polling /api/state every 2 s and the hour plots every 30 s, in real time), then closed again.
# Also: bytes per update (/api/state, body and headers), bytes of a plot refresh
# (/api/history?range=hour|day|week, full rings), page weight (HTML + static files).
# Required (issue 15): page open < 1 % CPU at 4,000 frames/s, RSS < 8 MiB + the stated budgets:
# history 70,440 bytes (struct bl_history, src/out/history.h) + capture ring 1,572,864 bytes
# (65,536 frames of 24 bytes, src/out/capring.h) + live diagnose 2 x 394,728 bytes (struct
# bl_analysis running, and its copy while a report is made, src/app/livediag.c) = 2,433 KiB.
# Also the size of the capture download (/api/capture.log) at this rate.
#
#   bench/web_bench.sh                      # builds build-bench (no sanitizers) and runs
#   DURATION=30 RATE=4000 BATLINK=path/to/batlink bench/web_bench.sh
set -eu
cd "$(dirname "$0")/.."
DURATION=${DURATION:-60}
RATE=${RATE:-4000}
if [ -z "${BATLINK:-}" ]; then
    cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBL_SANITIZE=OFF -DBL_TESTS=OFF \
        >/dev/null
    cmake --build build-bench -j2 --target batlink >/dev/null
    BATLINK=$PWD/build-bench/batlink
fi
CHROMIUM=$(command -v chromium || true)
[ -n "$CHROMIUM" ] || { echo "web_bench.sh: needs chromium (scripts/setup.sh --test)" >&2; exit 1; }
T=$(mktemp -d)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$T"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
rss() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
HZ=$(getconf CLK_TCK)

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

PORT=$(free_port)
HP=$(free_port)
python3 "$T/peer.py" "$PORT" "$RATE" &
PIDS+=($!)
sleep 0.5
printf '[http]\nlisten = 127.0.0.1:%s\nhistory_file = %s/history.bin\n' "$HP" "$T" >"$T/b.ini"
"$BATLINK" monitor --config "$T/b.ini" --json "canet:127.0.0.1:$PORT" >/dev/null 2>"$T/mon.err" &
MON=$!
PIDS+=($MON)
sleep 5

phase() { # NAME: CPU % and RSS of the monitor over DURATION s
    local m0 m1 f0 f1
    f0=$(curl -sf "http://127.0.0.1:$HP/api/state" | python3 -c 'import json,sys; print(json.load(sys.stdin)["link"]["frames"])')
    m0=$(ticks $MON)
    sleep "$DURATION"
    m1=$(ticks $MON)
    f1=$(curl -sf "http://127.0.0.1:$HP/api/state" | python3 -c 'import json,sys; print(json.load(sys.stdin)["link"]["frames"])')
    printf '%-22s %10.0f %12s %10s KiB\n' "$1" "$(awk "BEGIN {print ($f1 - $f0) / $DURATION}")" \
        "$(awk "BEGIN {printf \"%.3f %%\", 100 * ($m1 - $m0) / $HZ / $DURATION}")" "$(rss $MON)"
    echo "$(awk "BEGIN {printf \"%.3f\", 100 * ($m1 - $m0) / $HZ / $DURATION}")" >"$T/cpu.$2"
}

echo "batlink web page benchmark: $BATLINK, $(nproc) CPUs, $(uname -m), ${DURATION} s per phase"
printf '%-22s %10s %12s %14s\n' "phase" "frames/s" "monitor CPU" "RSS"
phase "page closed" closed
"$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --user-data-dir="$T/chromium" --window-size=1200,1500 --remote-debugging-port=0 \
    "http://127.0.0.1:$HP/" >/dev/null 2>&1 &
BR=$!
PIDS+=($BR)
sleep 5 # the browser starts and loads the page
phase "page open (Chromium)" open
echo "  (browser connections to the page during the phase: $(ss -Htn state established "( sport = :$HP )" | wc -l) open now)"
kill $BR 2>/dev/null || true
wait $BR 2>/dev/null || true
sleep 2
phase "page closed again" closed2
hwm=$(awk '/^VmHWM/ {print $2}' "/proc/$MON/status")
echo "peak RSS (VmHWM) of the whole run: $hwm KiB"

size() { curl -sf -o /dev/null -w '%{size_header} %{size_download}' "http://127.0.0.1:$HP$1"; }
read -r h b <<<"$(size /api/state)"
echo "bytes per update (/api/state every 2 s): $b body + $h headers = $((b + h))"
for r in hour day week; do
    read -r h b <<<"$(size "/api/history?range=$r")"
    echo "plot refresh /api/history?range=$r (as filled now): $b body + $h headers"
done
# full rings: a history file with every point of the three ranges filled (the layout of struct
# bl_history, src/out/history.h, on x86-64 and arm64), read by a second monitor: a plot refresh
# then carries the largest answer it ever will
python3 - "$T/full.bin" <<'EOF'
import math, struct, sys, time, zlib
now = int(time.time())
rings, pts = b"", b""
for step, cap in ((10, 360), (120, 720), (900, 672)):
    last = now - now % step
    rings += struct.pack("<4Iq8d8I", step, cap, 0, cap, last, *([0.0] * 8), *([0] * 8))
for step, cap in ((10, 360), (120, 720), (900, 672)):
    last = now - now % step
    for i in range(cap):
        t = last - (cap - i) * step
        x = math.sin(i / 20)
        pts += struct.pack("<q8f", t, 50 + 40 * x, 2500 * x, 51.2 + x, 50 * x, 120, 120,
                           22 + 3 * x, 12 + 5 * abs(x))
body = rings + pts
hdr = b"BLHIST\n\0" + struct.pack("<III", 1, len(body), zlib.crc32(body))
open(sys.argv[1], "wb").write(hdr + body)
EOF
HP2=$(free_port)
printf '[http]\nlisten = 127.0.0.1:%s\nhistory_file = %s/full.bin\n' "$HP2" "$T" >"$T/f.ini"
"$BATLINK" monitor --config "$T/f.ini" --json sim: >/dev/null 2>"$T/full.err" &
FULL=$!
PIDS+=($FULL)
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$HP2/" >/dev/null 2>&1 && break; sleep 0.2; done
n=$(curl -sf "http://127.0.0.1:$HP2/api/history?range=week" |
    python3 -c 'import json,sys; print(sum(v is not None for v in json.load(sys.stdin)["soc"]))')
[ "$n" -ge 672 ] || echo "  (the full history was not loaded: $n week points; $(cat "$T/full.err"))"
for r in hour day week; do
    read -r h b <<<"$(curl -sf -o /dev/null -w '%{size_header} %{size_download}' \
        "http://127.0.0.1:$HP2/api/history?range=$r")"
    echo "plot refresh /api/history?range=$r (full ring): $b body + $h headers"
done
kill -TERM $FULL
wait $FULL || true
total=0
for p in / /static/app.js /static/app.css /static/uplot.js /static/uplot.css; do
    read -r h b <<<"$(size "$p")"
    total=$((total + b))
done
echo "page weight (HTML + 4 static files, uncompressed; static files cached 1 h): $total bytes"
curl -sf -o "$T/capture.log" "http://127.0.0.1:$HP/api/capture.log" || true
echo "capture download (/api/capture.log): $(wc -c <"$T/capture.log") bytes, $(grep -vc '^#' "$T/capture.log") frames; $(head -1 "$T/capture.log")"
echo "  peak RSS (VmHWM) after the download (its text is built in one buffer, freed after): $(awk '/^VmHWM/ {print $2}' "/proc/$MON/status") KiB"
kill -TERM $MON
wait $MON || echo "monitor exit $?" >&2
cpu=$(cat "$T/cpu.open")
verdict=PASS
[ "$hwm" -lt $((8192 + 2433)) ] || verdict=FAIL
awk "BEGIN {exit !($cpu < 1)}" || verdict=FAIL
echo "required: page open < 1 % CPU (got $cpu %), peak RSS < 8 MiB + 2,433 KiB history, capture and diagnose (got $hwm KiB): $verdict"
[ $verdict = PASS ]
