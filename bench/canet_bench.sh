#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# canet_bench.sh: CANET transport cost over loopback (13-byte records, shared/reference/
# transports.md section 1) as batlink's CPU time per frame -- not the rate, which the sender
# limits -- each next to a naive Python receiver (the peer tool), interleaved run by run,
# median and spread (min..max) of BL_BENCH_RUNS runs (default 5):
#   1. full rate: BENCH_FRAMES records (default 1,000,000) as fast as TCP takes them, received by
#      the transport alone (bench/canet_sink.c on batlink's libraries), by `batlink dump --json`,
#      and by the Python receiver;
#   2. a real 500 kbit/s bus's maximum, BENCH_FPS (4,000) frames/s in 10 ms packets, for
#      BENCH_SECONDS (default 10) per run: batlink dump's CPU share of one core (required < 1 %).
# BL_BENCH_JSON=FILE writes the figures (bench/run_all.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BL_BENCH_BUILD:-build-bench}
seconds=${BENCH_SECONDS:-10}
nframes=${BENCH_FRAMES:-1000000}
fps=${BENCH_FPS:-4000}
runs=${BL_BENCH_RUNS:-5}
helper=bench/canet_blast.py
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "== build (Release, no sanitizers) in $build"
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DBL_TESTS=OFF >/dev/null
cmake --build "$build" -j2 --target batlink batlink_io >/dev/null
cc -O2 -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -Iinclude bench/canet_sink.c \
    "$build/libbatlink_base.a" "$build/libbatlink_core.a" $(pkg-config --libs libcjson) -lm \
    -o "$build/canet_sink"
batlink=$build/batlink

# start a blaster in the background (in this shell, so `wait` finds it); sets $port; waits for
# its port file (a condition, not a fixed sleep)
serve() {
    rm -f "$tmp/port"
    python3 "$helper" "$@" 2>>"$tmp/serve.err" &
    for _ in $(seq 600); do [[ -s $tmp/port ]] && break; sleep 0.05; done
    [[ -s $tmp/port ]] || { echo "canet_bench: the sender did not start" >&2; exit 1; }
    port=$(cat "$tmp/port")
}
field() { sed -n "s/.*\b$1 \([0-9.]*\).*/\1/p" <<<"$2" | head -1; }
res=$tmp/res.txt # lines: TOOL FRAMES CPU_S SECONDS

echo "== $runs runs, interleaved; $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
for ((r = 1; r <= runs; r++)); do
    serve serve-blast "$tmp/port" "$nframes"
    out=$("$build/canet_sink" "canet:127.0.0.1:$port")
    wait
    echo "transport $(field frames "$out") $(field cpu_s "$out") 0" >>"$res"

    serve serve-blast "$tmp/port" "$nframes"
    out=$(python3 "$helper" recv 127.0.0.1 "$port")
    wait
    echo "python $(field frames "$out") $(field cpu_s "$out") 0" >>"$res"

    serve serve-blast "$tmp/port" "$nframes"
    m=$(python3 "$helper" measure /dev/null "$batlink" dump --json --stats --duration 30 \
        "canet:127.0.0.1:$port" 2>"$tmp/dump.err")
    wait
    echo "dump $(field frames "$(grep 'frames ' "$tmp/dump.err" | tail -1)") $(field cpu_s "$m") 0" >>"$res"

    serve serve-paced "$tmp/port" "$fps" "$seconds"
    m=$(python3 "$helper" measure /dev/null "$batlink" dump --json --stats \
        --duration "$((${seconds%.*} + 1))" "canet:127.0.0.1:$port" 2>"$tmp/dump.err")
    wait
    echo "paced $(field frames "$(grep 'frames ' "$tmp/dump.err" | tail -1)") $(field cpu_s "$m") $seconds" >>"$res"
done

python3 - "$res" "$fps" "${BL_BENCH_JSON:-}" <<'PY'
import json, statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
by = {}
for tool, f, c, s in rows:
    by.setdefault(tool, []).append((int(f), float(c), float(s)))
def upf(t):
    v = [c * 1e6 / f for f, c, s in by[t]]
    return statistics.median(v), min(v), max(v)
names = {"transport": "batlink CANET transport (canet_sink)", "dump": "batlink dump --json",
         "python": "peer: Python recv + struct"}
print("== 1. full rate: CPU per frame (median, min..max)")
out = {}
for t in ("transport", "dump", "python"):
    m, lo, hi = upf(t)
    out[t] = m
    print("   %-40s %7.3f us  (%.3f..%.3f)  %d frames/run" % (names[t], m, lo, hi, by[t][0][0]))
v = [100 * c / s for f, c, s in by["paced"]]
p = [c * 1e6 / f for f, c, s in by["paced"]]
share = statistics.median(v)
print("== 2. %s frames/s in 10 ms packets: batlink dump --json CPU %.3f %% of a core (%.3f..%.3f), %.2f us per frame; required < 1 %%: %s"
      % (sys.argv[2], share, min(v), max(v), statistics.median(p), "PASS" if share < 1 else "FAIL"))
if sys.argv[3]:
    json.dump({"us_per_frame": out, "paced_cpu_pct": share, "paced_us_per_frame": statistics.median(p)},
              open(sys.argv[3], "w"))
sys.exit(0 if share < 1 else 1)
PY
