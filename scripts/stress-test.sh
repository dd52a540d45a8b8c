#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# stress-test.sh: the test suite on a loaded machine -- `ctest -j$(nproc)` while two CPU hogs run
# at normal priority. Tests must wait on conditions, not on time; one that sleeps for "long
# enough" fails here.
#
#   scripts/stress-test.sh [BUILD_DIR [CTEST_ARGS...]]
#
# BUILD_DIR defaults to build-test (as scripts/test.sh builds it: Debug, ASan + UBSan) and is
# configured and built when missing. CTEST_ARGS go to ctest, e.g. `-R integration/` or
# `--repeat until-fail:3`. BL_HOGS sets the number of hogs (default 2). Harsher, to find a timing
# assumption faster: BL_STRESS_CPUS=0 pins the tests and the hogs to those CPUs (taskset), and
# BL_STRESS_NICE=19 runs the tests at that niceness while the hogs stay at 0.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build-test}
shift || true
jobs=$(nproc)
hogs=${BL_HOGS:-2}
pin=()
if [[ -n "${BL_STRESS_CPUS:-}" ]]; then
    pin=(taskset -c "$BL_STRESS_CPUS")
fi

if [[ ! -f "$build/CTestTestfile.cmake" ]]; then
    cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Debug -DBL_SANITIZE=ON -DBL_TESTS=ON >/dev/null
fi
cmake --build "$build" -j"$jobs" >/dev/null

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

pids=()
stop_hogs() {
    for p in "${pids[@]}"; do
        kill "$p" 2>/dev/null || true
    done
    for p in "${pids[@]}"; do
        wait "$p" 2>/dev/null || true
    done
    pids=()
}
trap stop_hogs EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP

for ((i = 0; i < hogs; i++)); do
    "${pin[@]}" nice -n 0 sh -c 'while :; do :; done' &
    pids+=($!)
done
echo "stress-test: ctest -j$jobs in $build with $hogs CPU hogs (pids ${pids[*]})" \
    "${BL_STRESS_CPUS:+on CPUs $BL_STRESS_CPUS}${BL_STRESS_NICE:+, tests at nice $BL_STRESS_NICE}"
rc=0
(cd "$build" && "${pin[@]}" nice -n "${BL_STRESS_NICE:-0}" \
    ctest --output-on-failure -j"$jobs" "$@") || rc=$?
stop_hogs
if ((rc != 0)); then
    echo "stress-test: FAIL: tests failed under load (ctest exit $rc)" >&2
    exit "$rc"
fi
echo "stress-test: all tests passed under load"
