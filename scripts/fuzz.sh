#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# fuzz.sh [RUNS [SECONDS]]: build the libFuzzer targets with clang and run each for RUNS executions
# (default 100000) or SECONDS (default 30), whichever comes first, over its stored seed corpus
# (tests/fuzz/corpus/<target>/). Any finding fails the script. For the long runs the issues ask
# for: scripts/fuzz.sh 1000000 3600.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-100000}
secs=${2:-30}
CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBL_FUZZ=ON >/dev/null
shopt -s nullglob
# only the fuzz targets: the output modules (batlink-mqtt.so, batlink-http.so) are shared objects
# that do not link against the sanitizer runtimes the fuzz flags bring in
targets=()
for src in tests/fuzz/fuzz_*.c; do targets+=(--target "$(basename "$src" .c)"); done
cmake --build build-fuzz -j"$(nproc)" "${targets[@]}" >/dev/null
for src in tests/fuzz/fuzz_*.c; do
    name=$(basename "$src" .c)
    corpus=tests/fuzz/corpus/$name
    work=$(mktemp -d)
    seeds=()
    [[ -d $corpus ]] && seeds=("$corpus")
    echo "fuzz: $name, up to $runs runs or ${secs} s"
    (cd "$work" && "$OLDPWD/build-fuzz/tests/$name" -runs="$runs" -max_total_time="$secs" -max_len=4096 \
        "$work" "${seeds[@]/#/$OLDPWD/}" >"$work/log" 2>&1) || {
        tail -40 "$work/log"
        echo "fuzz: $name FAILED" >&2
        exit 1
    }
    grep -E "Done [0-9]+ runs" "$work/log" || true
    rm -rf "$work"
done
