#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# fuzz.sh RUNS: build the libFuzzer targets with clang and run each for RUNS executions over its
# stored seed corpus (tests/fuzz/corpus/<target>/). Any finding fails the script.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-100000}
CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBL_FUZZ=ON >/dev/null
cmake --build build-fuzz -j"$(nproc)" >/dev/null
shopt -s nullglob
for src in tests/fuzz/fuzz_*.c; do
    name=$(basename "$src" .c)
    corpus=tests/fuzz/corpus/$name
    work=$(mktemp -d)
    seeds=()
    [[ -d $corpus ]] && seeds=("$corpus")
    echo "fuzz: $name, $runs runs"
    (cd "$work" && "$OLDPWD/build-fuzz/tests/$name" -runs="$runs" -max_len=4096 \
        "$work" "${seeds[@]/#/$OLDPWD/}" >"$work/log" 2>&1) || {
        tail -40 "$work/log"
        echo "fuzz: $name FAILED" >&2
        exit 1
    }
    grep -E "Done [0-9]+ runs" "$work/log" || true
    rm -rf "$work"
done
