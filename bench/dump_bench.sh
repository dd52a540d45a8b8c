#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# dump_bench.sh [FRAMES]: time `batlink dump --json` on a generated Pylontech log of FRAMES frames
# (default 1,000,000) against can-utils log2long and a python-can script (CanutilsLogReader +
# struct decode + json.dumps), in the same run. Each tool runs BL_BENCH_RUNS times (default 3);
# the best wall time counts. Required (issue 2): batlink >= 50x python-can and not slower than
# log2long; the exit status is 1 when either fails. BL_BENCH_BUILD_TYPE overrides the build type.
set -euo pipefail
cd "$(dirname "$0")/.."
frames=${1:-1000000}
runs=${BL_BENCH_RUNS:-3}
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

# best NAME CMD...: run CMD (stdout to /dev/null) $runs times; sets best_wall and best_cpu (s)
best() {
    local name=$1
    shift
    best_wall="" best_cpu=""
    for ((r = 1; r <= runs; r++)); do
        "$py" bench/run_timed.py "$@" >"$tmp/time"
        read -r wall cpu <"$tmp/time"
        printf '   %-10s run %d: %7.3f s wall, %7.3f s CPU\n' "$name" "$r" "$wall" "$cpu"
        if [[ -z $best_wall ]] || (($(echo "$wall < $best_wall" | bc -l))); then best_wall=$wall; fi
        if [[ -z $best_cpu ]] || (($(echo "$cpu < $best_cpu" | bc -l))); then best_cpu=$cpu; fi
    done
}

# the outputs are real: one JSON object per frame from batlink and python-can
[[ $("$batlink" dump --json "$log" | wc -l) -eq $n ]] || { echo "batlink: wrong line count" >&2; exit 1; }
[[ $("$py" bench/pycan_decode.py "$log" | wc -l) -eq $n ]] || { echo "python-can: wrong line count" >&2; exit 1; }

echo "== timing ($runs runs each, best counts)"
best batlink "$batlink" dump --json --profile auto "$log"
b_wall=$best_wall b_cpu=$best_cpu
# the same with the profile forced: recognition must add no per-frame cost once settled
best forced "$batlink" dump --json --profile pylontech "$log"
f_wall=$best_wall f_cpu=$best_cpu
BL_STDIN=$log best log2long log2long
l_wall=$best_wall l_cpu=$best_cpu
best python-can "$py" bench/pycan_decode.py "$log"
p_wall=$best_wall p_cpu=$best_cpu

rate() { echo "$n / ($1 + 0.000001)" | bc -l; }
echo "== results"
printf '   %-28s %9s %14s %14s\n' tool "best s" "frames/s" "frames/CPU-s"
printf '   %-28s %9.3f %14.0f %14.0f\n' "batlink dump --json (auto)" "$b_wall" "$(rate "$b_wall")" "$(rate "$b_cpu")"
printf '   %-28s %9.3f %14.0f %14.0f\n' "  same, --profile pylontech" "$f_wall" "$(rate "$f_wall")" "$(rate "$f_cpu")"
printf '   %-28s %9.3f %14.0f %14.0f\n' "log2long" "$l_wall" "$(rate "$l_wall")" "$(rate "$l_cpu")"
printf '   %-28s %9.3f %14.0f %14.0f\n' "python-can + struct + json" "$p_wall" "$(rate "$p_wall")" "$(rate "$p_cpu")"
vs_py=$(echo "$p_wall / ($b_wall + 0.000001)" | bc -l)
vs_l2l=$(echo "$l_wall / ($b_wall + 0.000001)" | bc -l)
printf '   batlink vs python-can: %.1fx (CPU time: %.1fx)   required >= 50x\n' "$vs_py" \
    "$(echo "$p_cpu / ($b_cpu + 0.000001)" | bc -l)"
printf '   batlink vs log2long:   %.2fx (CPU time: %.2fx)   required >= 1x\n' "$vs_l2l" \
    "$(echo "$l_cpu / ($b_cpu + 0.000001)" | bc -l)"
ok=1
(($(echo "$vs_py >= 50" | bc -l))) || { echo "FAIL: batlink is less than 50x python-can"; ok=0; }
(($(echo "$vs_l2l >= 1" | bc -l))) || { echo "FAIL: batlink is slower than log2long"; ok=0; }
((ok)) && echo "PASS: both requirements met"
((ok))
