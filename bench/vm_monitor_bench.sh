#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# vm_monitor_bench.sh: `batlink monitor` with MQTT and HTTP on a real SocketCAN socket (vcan0 in
# the QEMU VM of tests/vm) while cangen sends 4,000 frames/s: CPU share of a core, CPU per frame,
# wake-ups per second, from inside the guest. BL_BENCH_BASE=path/to/an/older/batlink runs it too.
# Under TCG (no KVM) every instruction is emulated: the figures are far above real hardware's and
# only comparable with each other (BL_VM_ACCEL=kvm where /dev/kvm exists).
#   bench/vm_monitor_bench.sh     env: BL_BENCH_BASE, BL_VM_ACCEL, BL_VM_TIMEOUT
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release -DBL_TESTS=OFF >/dev/null
cmake --build build-bench -j2 --target batlink >/dev/null
carry="$(command -v mosquitto)=/usr/bin/mosquitto"
[[ -n ${BL_BENCH_BASE:-} ]] && carry+=" $BL_BENCH_BASE=/usr/bin/batlink-base"
BATLINK=$PWD/build-bench/batlink BL_BUILD_DIR=$PWD/build-bench BL_SOURCE_DIR=$PWD \
    BL_VM_ONLY=bench_wakeups BL_VM_CARRY="$carry" BL_VM_TIMEOUT=${BL_VM_TIMEOUT:-600} \
    bash tests/vm/run.sh 2>&1 | grep -E 'BLVM-INFO bench|BLVM-RESULT|vm/socketcan'
