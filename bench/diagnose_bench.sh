#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# diagnose_bench.sh [SECONDS]: `batlink diagnose` on a generated capture of SECONDS (default 3600)
# of a 500 kbit/s bus at full load (~4170 frames/s: 15 million frames per hour) and on one tenth
# of it: wall time, CPU and peak RSS, median and spread of BL_BENCH_RUNS runs (default 5), the
# tools interleaved run by run (bench/interleave.py). The analyser keeps fixed-size per-id
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

cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release -DBL_TESTS=OFF >/dev/null
cmake --build build-bench -j2 --target batlink >/dev/null
batlink=$PWD/build-bench/batlink

short=$((secs / 10))
n_long=$("$py" bench/gen_busload_log.py "$secs" "$tmp/long.log")
n_short=$("$py" bench/gen_busload_log.py "$short" "$tmp/short.log")
echo "== logs: $n_long frames ($secs s, $(($(stat -c %s "$tmp/long.log") / 1048576)) MiB), $n_short frames ($short s); $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"

# the verdict is real: frames and ids counted on both files
for f in long short; do
    "$batlink" diagnose --json "$tmp/$f.log" >"$tmp/$f.json" || true
    printf "%-6s verdict frames ids: %s\n" "$f" "$("$py" -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["verdict"], d["frames"], len(d["messages"]))' "$tmp/$f.json")"
done

tools=("diagnose long=$batlink diagnose --json $tmp/long.log" "diagnose short=$batlink diagnose --json $tmp/short.log"
       "dump long (peer)=$batlink dump $tmp/long.log")
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
    tools+=("python-can short (peer)=$py $tmp/peer.py $tmp/short.log")
fi
echo "== ${BL_BENCH_RUNS:-5} runs of each, interleaved (diagnose exits 1 when it has findings)"
"$py" bench/interleave.py -k -n "${BL_BENCH_RUNS:-5}" --json "$tmp/res.json" "${tools[@]}"

"$py" - "$tmp/res.json" "$n_long" "$n_short" "${BL_BENCH_JSON:-}" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
nl, ns = int(sys.argv[2]), int(sys.argv[3])
lo, sh = r["diagnose long"], r["diagnose short"]
print("== diagnose: %.0f frames/s (long), %.0f frames/s (short), wall medians" % (nl / lo["wall"], ns / sh["wall"]))
if "python-can short (peer)" in r:
    p = r["python-can short (peer)"]
    print("   peer python-can (short): %.0f frames/s, %.0fx slower than diagnose, peak RSS %d KiB"
          % (ns / p["wall"], p["wall"] / sh["wall"], p["rss_kib_max"]))
grow = lo["rss_kib_max"] - sh["rss_kib_max"]
print("== peak RSS long %d KiB, short %d KiB: grows %d KiB (allowed 1024)" % (lo["rss_kib_max"], sh["rss_kib_max"], grow))
if sys.argv[4]:
    json.dump({"runs": r, "frames_long": nl, "frames_short": ns, "rss_growth_kib": grow}, open(sys.argv[4], "w"))
if grow > 1024:
    print("diagnose_bench: RSS grows with the capture length", file=sys.stderr)
    sys.exit(1)
PY
