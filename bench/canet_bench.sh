#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# canet_bench.sh: CANET transport throughput and CPU cost over loopback (13-byte records,
# shared/reference/transports.md section 1), each compared with a naive Python receiver (the
# peer tool) in the same run:
#   1. full rate: records blasted as fast as TCP takes them -> frames/s and CPU us per frame for
#      the transport alone (bench/canet_sink.c on libbatlink_io), for `batlink dump --json`,
#      and for the Python receiver;
#   2. a real 500 kbit/s bus's maximum, ~4,000 frames/s in 10 ms packets, for BENCH_SECONDS
#      (default 60): batlink dump's CPU share of one core (required: below 1 %).
# Usage: bench/canet_bench.sh   (env: BENCH_SECONDS=60 BENCH_FRAMES=2000000 BENCH_FPS=4000)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BL_BENCH_BUILD:-build-bench}
seconds=${BENCH_SECONDS:-60}
nframes=${BENCH_FRAMES:-2000000}
fps=${BENCH_FPS:-4000}
helper=bench/canet_blast.py
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "== build (Release, no sanitizers) in $build"
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DBL_TESTS=OFF >/dev/null
cmake --build "$build" -j2 --target batlink >/dev/null
cc -O2 -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -Iinclude bench/canet_sink.c \
    "$build/libbatlink_io.a" "$build/libbatlink_core.a" \
    $(pkg-config --libs libmosquitto libcjson libmicrohttpd) -lm -o "$build/canet_sink"
batlink=$build/batlink

# start a blaster in the background (in this shell, so `wait` finds it); sets $port
serve() {
    rm -f "$tmp/port"
    python3 "$helper" "$@" 2>>"$tmp/serve.err" &
    for _ in $(seq 100); do [[ -s $tmp/port ]] && break; sleep 0.05; done
    port=$(cat "$tmp/port")
}

field() { sed -n "s/.*\b$1 \([0-9.]*\).*/\1/p" <<<"$2" | head -1; }

echo "== 1. full rate, $nframes records over 127.0.0.1"
serve serve-blast "$tmp/port" "$nframes"
out=$("$build/canet_sink" "canet:127.0.0.1:$port")
wait
f=$(field frames "$out"); span=$(field first_to_last_s "$out"); cpu=$(field cpu_s "$out")
awk -v f="$f" -v s="$span" -v c="$cpu" 'BEGIN { printf "batlink transport (canet_sink): %d frames, %.0f frames/s, %.3f us CPU per frame\n", f, f/s, c*1e6/f }'

serve serve-blast "$tmp/port" "$nframes"
out=$(python3 "$helper" recv 127.0.0.1 "$port")
wait
f=$(field frames "$out"); span=$(field first_to_last_s "$out"); cpu=$(field cpu_s "$out")
awk -v f="$f" -v s="$span" -v c="$cpu" 'BEGIN { printf "peer: python recv+struct:        %d frames, %.0f frames/s, %.3f us CPU per frame\n", f, f/s, c*1e6/f }'

dn=$((nframes / 4))
serve serve-blast "$tmp/port" "$dn"
m=$(python3 "$helper" measure /dev/null "$batlink" dump --json --stats --duration 15 \
    "canet:127.0.0.1:$port" 2>"$tmp/dump.err")
wait
f=$(field frames "$(grep 'frames ' "$tmp/dump.err" | tail -1)"); cpu=$(field cpu_s "$m")
awk -v f="$f" -v c="$cpu" 'BEGIN { printf "batlink dump --json >/dev/null:  %d frames, %.3f us CPU per frame (incl. JSON formatting; 15 s run)\n", f, c*1e6/f }'

echo "== 2. $fps frames/s for $seconds s (10 ms packets), batlink dump --json >/dev/null"
serve serve-paced "$tmp/port" "$fps" "$seconds"
m=$(python3 "$helper" measure /dev/null "$batlink" dump --json --stats --duration "$((seconds + 1))" \
    "canet:127.0.0.1:$port" 2>"$tmp/dump.err")
wait
f=$(field frames "$(grep 'frames ' "$tmp/dump.err" | tail -1)")
cpu=$(field cpu_s "$m"); wall=$(field wall_s "$m")
awk -v f="$f" -v c="$cpu" -v w="$wall" -v s="$seconds" 'BEGIN {
    share = 100 * c / s   # over the seconds of traffic, not the idle second after it
    printf "received %d frames in %d s of traffic (%.1f s run): CPU %.3f s = %.3f %% of one core, %.2f us per frame (required < 1 %%): %s\n",
           f, s, w, c, share, c * 1e6 / f, share < 1 ? "PASS" : "FAIL"
    exit share < 1 ? 0 : 1 }'
