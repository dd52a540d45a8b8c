#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# dump_bench.sh [FRAMES]: `batlink dump --json` on a generated Pylontech log of FRAMES frames
# (default 1,000,000) against can-utils log2long and a python-can script (CanutilsLogReader +
# struct decode + json.dumps), interleaved run by run (bench/interleave.py): median and spread of
# BL_BENCH_RUNS runs (default 5) of wall and CPU time. Ratios are of the medians. Required
# (issue 11): batlink >= 100x python-can and >= 2.5x log2long (wall time); exit 1 otherwise.
# BL_BENCH_BASE=path/to/an/older/batlink adds it to the same runs (before/after figures).
# BL_BENCH_JSON=FILE writes the figures (bench/run_all.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
frames=${1:-1000000}
runs=${BL_BENCH_RUNS:-5}
py=/usr/bin/python3 # Debian's interpreter, where python3-can is installed

command -v log2long >/dev/null || { echo "dump_bench: log2long (can-utils) missing" >&2; exit 2; }
"$py" -c 'import can' 2>/dev/null || { echo "dump_bench: python3-can missing" >&2; exit 2; }

build_type=${BL_BENCH_BUILD_TYPE:-Release}
echo "== $build_type build (build-bench)"
cmake -S . -B build-bench -DCMAKE_BUILD_TYPE="$build_type" -DBL_TESTS=OFF >/dev/null
cmake --build build-bench -j2 --target batlink >/dev/null
batlink=$PWD/build-bench/batlink

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
log=$tmp/bench.log
n=$("$py" bench/gen_pylontech_log.py "$frames" "$log")
echo "== log: $n frames, $(($(stat -c %s "$log") / 1024 / 1024)) MiB, $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"

# the outputs are real: one JSON object per frame from batlink and python-can
[[ $("$batlink" dump --json "$log" | wc -l) -eq $n ]] || { echo "batlink: wrong line count" >&2; exit 1; }
[[ $("$py" bench/pycan_decode.py "$log" | wc -l) -eq $n ]] || { echo "python-can: wrong line count" >&2; exit 1; }

tools=("batlink=$batlink dump --json --profile auto $log" "batlink forced=$batlink dump --json --profile pylontech $log")
[[ -n ${BL_BENCH_BASE:-} ]] && tools+=("batlink (base)=$BL_BENCH_BASE dump --json $log")
tools+=("log2long=log2long <$log" "python-can=$py bench/pycan_decode.py $log")
echo "== timing: $runs runs of each, interleaved"
"$py" bench/interleave.py -n "$runs" --json "$tmp/res.json" "${tools[@]}"

"$py" - "$tmp/res.json" "$n" "${BL_BENCH_JSON:-}" <<'PY'
import json, sys
r = json.load(open(sys.argv[1])); n = int(sys.argv[2])
b, l, p = r["batlink"], r["log2long"], r["python-can"]
print("== results (medians)")
for name, t in r.items():
    print("   %-16s %12.0f frames/s wall %12.0f frames/CPU-s" % (name, n / t["wall"], n / t["cpu"]))
vs_py, vs_l2l = p["wall"] / b["wall"], l["wall"] / b["wall"]
print("   batlink vs python-can: %.1fx wall (CPU %.1fx)   required >= 100x" % (vs_py, p["cpu"] / b["cpu"]))
print("   batlink vs log2long:   %.2fx wall (CPU %.2fx)   required >= 2.5x" % (vs_l2l, l["cpu"] / b["cpu"]))
if "batlink (base)" in r:
    o = r["batlink (base)"]
    print("   base: vs python-can %.1fx, vs log2long %.2fx wall" % (p["wall"] / o["wall"], l["wall"] / o["wall"]))
ok = vs_py >= 100 and vs_l2l >= 2.5
print("PASS: both requirements met" if ok else "FAIL: a requirement is not met")
if sys.argv[3]:
    json.dump({"runs": r, "frames": n, "vs_python": vs_py, "vs_log2long": vs_l2l, "ok": ok},
              open(sys.argv[3], "w"))
sys.exit(0 if ok else 1)
PY
