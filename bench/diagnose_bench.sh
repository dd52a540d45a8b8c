#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# diagnose_bench.sh [SECONDS]: `batlink diagnose` on a generated capture of SECONDS (default 3600)
# of a 500 kbit/s bus at full load (~4170 frames/s: 15 million frames per hour) and on one tenth
# of it: wall time, CPU and peak RSS via /usr/bin/time -v. The analyser keeps fixed-size per-id
# histograms, so the peak RSS must not grow with the capture length (checked: the long run may
# use at most 1 MiB more than the short one; exit 1 otherwise). Peer in the same run: a python-can
# script that only counts frames and periods per id (the least a user would script), on the short
# file, and `batlink dump` on the long file (issue 13: diagnose beside dump). Needs about 700 MB of free disk in $TMPDIR (checked with df first).
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-3600}
py=/usr/bin/python3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

need_kb=$((secs * 4170 * 42 * 11 / 10 / 1024 + 10240))
free_kb=$(df -Pk "$tmp" | awk 'NR == 2 { print $4 }')
echo "== disk: $((free_kb / 1024)) MiB free in $tmp, about $((need_kb / 1024)) MiB needed"
((free_kb > need_kb)) || { echo "diagnose_bench: not enough disk space" >&2; exit 2; }

cmake -S . -B build-bench-diag -DCMAKE_BUILD_TYPE=Release -DBL_TESTS=OFF >/dev/null
cmake --build build-bench-diag -j2 --target batlink >/dev/null
batlink=$PWD/build-bench-diag/batlink

short=$((secs / 10))
n_long=$("$py" bench/gen_busload_log.py "$secs" "$tmp/long.log")
n_short=$("$py" bench/gen_busload_log.py "$short" "$tmp/short.log")
echo "== logs: $n_long frames ($secs s, $(($(stat -c %s "$tmp/long.log") / 1048576)) MiB), $n_short frames ($short s); $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"

measure() { # label file -> prints and sets rss_kb
    local label=$1 file=$2
    /usr/bin/time -v "$batlink" diagnose --json "$file" >"$tmp/$label.json" 2>"$tmp/$label.time" || true
    local wall cpu_u cpu_s
    wall=$(awk -F': ' '/Elapsed \(wall clock\)/ { print $2 }' "$tmp/$label.time")
    cpu_u=$(awk -F': ' '/User time/ { print $2 }' "$tmp/$label.time")
    cpu_s=$(awk -F': ' '/System time/ { print $2 }' "$tmp/$label.time")
    rss_kb=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$tmp/$label.time")
    local verdict frames
    verdict=$("$py" -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["verdict"], d["frames"], len(d["messages"]))' "$tmp/$label.json")
    printf "%-6s wall %s, user %s s, sys %s s, peak RSS %d KiB; verdict frames ids: %s\n" \
        "$label" "$wall" "$cpu_u" "$cpu_s" "$rss_kb" "$verdict"
}
measure long "$tmp/long.log"
rss_long=$rss_kb
# the peer inside batlink, same file, same run: dump decodes and prints every frame (to /dev/null)
/usr/bin/time -v "$batlink" dump "$tmp/long.log" >/dev/null 2>"$tmp/dump.time" || true
printf "dump   same long file: wall %s, user %s s, peak RSS %s KiB\n" \
    "$(awk -F': ' '/Elapsed \(wall clock\)/ { print $2 }' "$tmp/dump.time")" \
    "$(awk -F': ' '/User time/ { print $2 }' "$tmp/dump.time")" \
    "$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$tmp/dump.time")"
measure short "$tmp/short.log"
rss_short=$rss_kb

if "$py" -c 'import can' 2>/dev/null; then
    cat >"$tmp/peer.py" <<'PY'
import sys, can
last, n = {}, {}
gaps = {}
for m in can.CanutilsLogReader(sys.argv[1]):
    k = m.arbitration_id
    if k in last:
        gaps.setdefault(k, []).append(m.timestamp - last[k])
    last[k] = m.timestamp
    n[k] = n.get(k, 0) + 1
for k in sorted(gaps):
    g = sorted(gaps[k])
    print(hex(k), n[k], g[len(g) // 2], g[int(0.95 * (len(g) - 1))], g[-1])
PY
    /usr/bin/time -v "$py" "$tmp/peer.py" "$tmp/short.log" >/dev/null 2>"$tmp/peer.time"
    printf "peer   python-can per-id periods on the short file: wall %s, peak RSS %s KiB (stores every period)\n" \
        "$(awk -F': ' '/Elapsed \(wall clock\)/ { print $2 }' "$tmp/peer.time")" \
        "$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$tmp/peer.time")"
fi

echo "== peak RSS long - short: $((rss_long - rss_short)) KiB"
if ((rss_long - rss_short > 1024)); then
    echo "diagnose_bench: RSS grows with the capture length" >&2
    exit 1
fi
