#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# bms_decode_bench.sh [ITERATIONS]: decode cost per reply of every BMS codec (issue 12), Release
# build: ns per reply from a tight loop (bench/bms_decode_bench.c, default 200000 iterations),
# then instructions per reply from callgrind (1000 iterations, fixed cost subtracted) when
# valgrind is installed. Baseline in the same run: the JK UART parser called directly.
set -euo pipefail
cd "$(dirname "$0")/.."
iters=${1:-200000}
cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release -DBL_TESTS=OFF >/dev/null
cmake --build build-bench -j2 --target batlink_core >/dev/null
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cc -std=c11 -O2 -D_POSIX_C_SOURCE=200809L -Iinclude -Isrc bench/bms_decode_bench.c \
    build-bench/libbatlink_core.a -lm -o "$tmp/bench"
echo "== tight loop, $iters iterations, $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
"$tmp/bench" tests/data "$iters"
if command -v valgrind >/dev/null; then
    echo "== callgrind: instructions per reply = (Ir at 2000 iterations - Ir at 1000) / 1000"
    ir() { # ITERATIONS ITEM
        valgrind --tool=callgrind --callgrind-out-file=/dev/null "$tmp/bench" tests/data "$1" "$2" \
            2>&1 >/dev/null | awk '/Collected/ {print $NF}'
    }
    names=("jk (bl_jk_parse direct)" "jk" "jkpb live 16S" "jbd 0x03" "jbd 0x04 17S" "daly 0x90"
           "pylon485 0x42 1 module" "pylon485 0x42 4 modules" "daly 0x98" "pylon485 0x60"
           "console pwr 1 module" "console bat 15 cells")
    for k in -1 0 1 2 3 4 5 6 7 8 9 10; do
        a=$(ir 1000 "$k")
        b=$(ir 2000 "$k")
        printf '%-26s %8d Ir/reply\n' "${names[$((k + 1))]}" $(((b - a) / 1000))
    done
fi
