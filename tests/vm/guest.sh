#!/bin/sh
# SPDX-License-Identifier: MIT
# guest.sh: the SocketCAN tests, run by busybox sh inside the VM against vcan0, with can-utils
# candump/cansend as the independent peer. Prints "BLVM-RESULT <name> PASS|FAIL <why>" per test
# and "BLVM-END <passed> <failed>"; tests/vm/run.sh parses these lines.
T=/tmp/t
mkdir -p $T
npass=0
nfail=0

pass() {
    echo "BLVM-RESULT $1 PASS ${2:-}"
    npass=$((npass + 1))
}
fail() {
    echo "BLVM-RESULT $1 FAIL $2"
    nfail=$((nfail + 1))
    for f in $T/$1.*; do
        [ -s "$f" ] || continue
        echo "---- $f"
        head -c 3000 "$f"
        echo
    done
}
# check NAME WHY CONDITION...: pass when the condition command succeeds; BL_VM_EXPECT_FAIL=NAME
# inverts it (the proof that the harness catches a wrong answer).
check() {
    name=$1
    why=$2
    shift 2
    if "$@"; then ok=1; else ok=0; fi
    if [ "$BL_VM_EXPECT_FAIL" = "$name" ]; then ok=$((1 - ok)); why="(inverted on purpose) $why"; fi
    if [ $ok = 1 ]; then pass "$name"; else fail "$name" "$why"; fi
}
want() {
    [ -z "$BL_VM_ONLY" ] && return 0
    for w in $BL_VM_ONLY; do [ "$w" = "$1" ] && return 0; done
    return 1
}

# ---- smoke: the binary runs inside the VM
if want smoke; then
    batlink --version >$T/smoke.out 2>$T/smoke.err
    check smoke "batlink --version failed" grep -q batlink $T/smoke.out
fi

# ---- the transport's own unit test, live cases included (they skip outside this VM)
if want unit && [ -x /usr/bin/test_socketcan ]; then
    BL_VCAN=vcan0 timeout 60 test_socketcan >$T/unit.out 2>&1
    rc=$?
    check unit "test_socketcan exit $rc" sh -c "[ $rc = 0 ] && ! grep -q SKIPPED $T/unit.out"
    grep -E '^(overflow|warn):' $T/unit.out | sed 's/^/BLVM-INFO unit: /'
fi

echo "BLVM-END $npass $nfail"
