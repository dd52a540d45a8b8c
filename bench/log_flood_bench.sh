#!/bin/bash
# SPDX-License-Identifier: MIT
# log_flood_bench.sh: the bridge's transmit period while 10,000 MQTT commands arrive and its stderr
# is read slowly (a batching reader: up to 64 KiB every 2 s) or not at all (issue 9 item 5). Runs
# tests/integration/test_log_flood.py at the issue's 1 s period with 30 periods measured before
# the flood (the peer figure: the same bridge, same run, no flood) and 30 after the publisher is
# done; |period - 1 s| at p50/p99/max on the CANET peer's kernel receive timestamps.
# Required: p99 < 2 ms under the flood.
#
#   bench/log_flood_bench.sh                          # Release build of this tree
#   BATLINK=path/to/batlink bench/log_flood_bench.sh  # another binary (e.g. an older commit)
#   NO_RT=1 bench/log_flood_bench.sh                  # the bridge without SCHED_FIFO
#   READERS=slow bench/log_flood_bench.sh             # one reader mode only
set -u
cd "$(dirname "$0")/.."
if [ -z "${BATLINK:-}" ]; then
    cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release -DBL_SANITIZE=OFF -DBL_TESTS=OFF \
        >/dev/null
    cmake --build build-bench -j2 --target batlink >/dev/null
    BATLINK=$PWD/build-bench/batlink
fi
export BATLINK BL_FLOOD_PERIOD=1 BL_FLOOD_BASELINE=30 BL_FLOOD_AFTER=30 BL_FLOOD_P99_MS=2
[ "${NO_RT:-0}" = 1 ] && export BL_FLOOD_NO_RT=1
echo "binary: $BATLINK ($("$BATLINK" --version 2>&1 | head -1)); load: $(cut -d' ' -f1-3 /proc/loadavg)"
rc=0
for reader in ${READERS:-stalled slow}; do
    echo "== stderr reader: $reader"
    BL_FLOOD_READER=$reader python3 tests/integration/test_log_flood.py >"/tmp/log_flood_$$.out" 2>&1 ||
        rc=1
    grep -E '^# (bridge scheduling|baseline|flood)|^FAIL' "/tmp/log_flood_$$.out"
    rm -f "/tmp/log_flood_$$.out"
done
exit $rc
