#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# monitor_bench.sh: `batlink monitor` with MQTT and HTTP on: CPU share of a core and CPU per frame
# at 4,000 frames/s one frame per wake-up (CANET, one TCP segment per frame; peer in the same run:
# socat on the same stream) and with a paced candump replay; wake-ups per second when idle; peak
# RSS; instructions per frame (callgrind). Details: bench/monitor_bench.py.
# Required (issue 11): < 1 % of a core at 4,000 frames/s one frame per wake-up.
#
#   bench/monitor_bench.sh        env: BL_BENCH_RUNS (5), SECONDS_PER_RUN (10), BL_BENCH_BASE
#                                 (an older batlink to run side by side), BL_BENCH_JSON
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ -z ${BATLINK:-} ]]; then
    cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release -DBL_TESTS=OFF >/dev/null
    cmake --build build-bench -j2 --target batlink >/dev/null
    BATLINK=$PWD/build-bench/batlink
fi
for t in mosquitto socat valgrind; do
    command -v $t >/dev/null || { echo "monitor_bench: $t missing" >&2; exit 2; }
done
echo "== batlink monitor: $BATLINK, $(nproc) CPUs, $(uname -m), load $(cut -d' ' -f1-3 /proc/loadavg)"
args=(--batlink "$BATLINK" --runs "${BL_BENCH_RUNS:-5}" --seconds "${SECONDS_PER_RUN:-10}")
[[ -n ${BL_BENCH_BASE:-} ]] && args+=(--base "$BL_BENCH_BASE")
[[ -n ${BL_BENCH_JSON:-} ]] && args+=(--json "$BL_BENCH_JSON")
rc=0
python3 bench/monitor_bench.py "${args[@]}" || rc=$?

# Instructions per frame: callgrind on candump files of 20,000 and 220,000 frames; the
# difference removes start-up and exit costs.
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
python3 - "$T" <<'PY'
import sys
burst = ["351#1402740E740ECC01", "355#1A006400", "356#7B13E9FE6B01", "359#000000000A504E",
         "35C#C000", "35E#50594C4F4E202020", "305#0000000000000000"]
for n in (20000, 220000):
    with open("%s/f%d.log" % (sys.argv[1], n), "w") as f:
        for i in range(n):
            f.write("(%.6f) can0 %s\n" % (1700000000 + i * 0.00025, burst[i % 7]))
PY
ir() {
    valgrind --tool=callgrind --callgrind-out-file="$T/cg.out" "$1" monitor --json \
        "candump:$2" >/dev/null 2>"$T/cg.err"
    awk '/^(summary|totals):/ {print $2; exit}' "$T/cg.out"
}
for b in "$BATLINK" ${BL_BENCH_BASE:+"$BL_BENCH_BASE"}; do
    ir1=$(ir "$b" "$T/f20000.log")
    ir2=$(ir "$b" "$T/f220000.log")
    echo "instructions per frame (callgrind, candump parse + decode + track), $b: $((($ir2 - $ir1) / 200000))"
done
exit $rc
